"""Test-only yt-dlp extractors that answer YouTube-shaped URLs from a catalogue (YOUTUBE_AND_PLEX.md §7.8).

`https://www.youtube.com/watch?v=<11 chars>` (also m./music. and youtu.be/<id>) and
`https://www.youtube.com/playlist?list=<id>` are answered without any network access; the media URLs
point at the FakeMediaServer on 127.0.0.1. This lets tests keep the production host allow-list and
extractor allow-list on: extractors added with add_info_extractor() are not filtered by yt-dlp.
Pass `FAKE_YOUTUBE_EXTRACTORS` as `YtDlpClient(extra_extractors=...)`. Never import this from medianest/.

    yt = FakeYouTube(media_server)
    url = yt.add_video("AAAAAAAAAA1", "First", slow=False, broken=False, private=False)
    url = yt.add_playlist("PLtest", "My Playlist", [("AAAAAAAAAA1", "First"), ("AAAAAAAAAA2", "..")],
                          broken=["AAAAAAAAAA2"])
Archive lines written by yt-dlp for these read "fakeyoutube <id>"; MediaNest compares ids only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.utils import ExtractorError

CHANNEL = "Test Channel"


@dataclass
class CatalogueVideo:
    title: str
    media_url: str
    upload_date: str = "20240101"
    duration: int = 1
    filesize: int | None = None
    private: bool = False


@dataclass
class Catalogue:
    videos: dict[str, CatalogueVideo] = field(default_factory=dict)
    playlists: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def clear(self):
        self.videos.clear()
        self.playlists.clear()


# yt-dlp instantiates extractor classes itself, so they read this module-level catalogue.
CATALOGUE = Catalogue()


def watch_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def playlist_url(list_id: str) -> str:
    return f"https://www.youtube.com/playlist?list={list_id}"


class FakeYouTubeIE(InfoExtractor):
    IE_NAME = "fakeyoutube"
    _VALID_URL = (r"https?://(?:(?:www|m|music)\.)?youtube\.com/watch\?(?:.*&)?v=(?P<id>[\w-]{11})"
                  r"|https?://youtu\.be/(?P<short_id>[\w-]{11})")

    def _real_extract(self, url):
        match = self._match_valid_url(url)
        video_id = match.group("id") or match.group("short_id")
        video = CATALOGUE.videos.get(video_id)
        if video is None:
            raise ExtractorError("Video unavailable. This video is no longer available", expected=True,
                                 video_id=video_id)
        if video.private:
            raise ExtractorError("Private video. Sign in if you've been granted access to this video",
                                 expected=True, video_id=video_id)
        fmt = {"format_id": "18", "url": video.media_url, "ext": "mp4", "vcodec": "avc1.42001E",
               "acodec": "mp4a.40.2", "width": 64, "height": 48, "protocol": "https"}
        if video.filesize is not None:
            fmt["filesize"] = video.filesize
        return {
            "id": video_id, "title": video.title, "channel": CHANNEL, "uploader": CHANNEL,
            "channel_id": "UCfakechannel00000000000", "upload_date": video.upload_date,
            "duration": video.duration, "webpage_url": watch_url(video_id), "formats": [fmt],
        }


class FakeYouTubePlaylistIE(InfoExtractor):
    IE_NAME = "fakeyoutube:playlist"
    _VALID_URL = r"https?://(?:(?:www|m|music)\.)?youtube\.com/playlist\?(?:.*&)?list=(?P<id>[\w-]+)"

    def _real_extract(self, url):
        list_id = self._match_id(url)
        if list_id not in CATALOGUE.playlists:
            raise ExtractorError("The playlist does not exist.", expected=True, video_id=list_id)
        title, ids = CATALOGUE.playlists[list_id]
        entries = []
        for video_id in ids:
            video = CATALOGUE.videos.get(video_id)
            entries.append(self.url_result(
                watch_url(video_id), FakeYouTubeIE, video_id, video.title if video else None,
                duration=video.duration if video else None, channel=CHANNEL))
        return self.playlist_result(entries, list_id, title, playlist_count=len(entries), channel=CHANNEL)


FAKE_YOUTUBE_EXTRACTORS = (FakeYouTubeIE, FakeYouTubePlaylistIE)


class FakeYouTube:
    """Registers catalogue entries and their media on a FakeMediaServer."""

    extractors = FAKE_YOUTUBE_EXTRACTORS

    def __init__(self, media):
        self.media = media

    def reset(self):
        CATALOGUE.clear()

    def add_video(self, video_id: str, title: str, *, slow=False, broken=False, private=False,
                  data: bytes | None = None, duration=1, upload_date="20240101", known_size=False) -> str:
        if len(video_id) != 11:
            raise ValueError("YouTube video ids are 11 characters")
        if broken:
            media_url = self.media.video_url(video_id, broken=True)
        else:
            media_url = self.media.add_video(video_id, data, slow=slow)
        size = len(self.media.media[video_id]) if known_size and not broken else None
        CATALOGUE.videos[video_id] = CatalogueVideo(title, media_url, upload_date, duration, size, private)
        return watch_url(video_id)

    def add_playlist(self, list_id: str, title: str, videos, *, broken=(), slow=()) -> str:
        """videos: [(id, title)]; ids added before with add_video() keep their settings."""
        for video_id, video_title in videos:
            if video_id not in CATALOGUE.videos:
                self.add_video(video_id, video_title, broken=video_id in broken, slow=video_id in slow)
        CATALOGUE.playlists[list_id] = (title, [video_id for video_id, _ in videos])
        return playlist_url(list_id)
