"""Real HTTP fake servers for the outside systems, run on 127.0.0.1 in a thread."""
