"""The vcrpy Cassette subclass that plays a batch recording: polls in order, submissions once."""

from __future__ import annotations

from typing import Any

from .errors import ReplayMiss
from .matching import KEY_MATCHERS, match_key, match_method, match_url
from .session import CassetteSession, submitted_batch_id

_MUTATING = ("POST", "PUT", "PATCH", "DELETE")
_POLLING = ("GET", "HEAD")


def batch_cassette_class(session: CassetteSession) -> type:
    from vcr.cassette import Cassette
    from vcr.errors import UnhandledHTTPRequestError
    from vcr.matchers import requests_match

    class BatchCassette(Cassette):  # type: ignore[misc]
        """A vcrpy Cassette that plays a URL's responses in order, then repeats the last GET."""

        #: the furthest interaction replayed so far: the replay's place in the recording
        _position = -1
        #: (request, index): vcrpy asks can_play_response_for, then play_response, with one request
        _plan: tuple[Any, int | None] | None = None

        #: vcrpy's _load appends the recorded interactions: those are no new submissions
        _loading = False

        def _load(self) -> None:
            if session.mode == "record" and not session.resuming:
                return  # record from scratch; the old file is replaced on success
            self._loading = True
            try:
                super()._load()
            finally:
                self._loading = False
            if session.resuming:
                mutating = [i for i, (request, _) in enumerate(self.data) if request.method in _MUTATING]
                session.replay_limit = mutating[-1] + 1 if mutating else 0

        def append(self, request: Any, response: Any) -> None:
            """vcrpy keeps a live interaction; a batch it created is saved at once (``on_submitted``)."""
            count = len(self.data)
            super().append(request, response)
            if self._loading or session.on_submitted is None or len(self.data) == count:
                return
            batch_id = submitted_batch_id(*self.data[-1])
            if batch_id:
                session.on_submitted(batch_id)

        def _candidates(self, request: Any) -> list[int]:
            filtered = self._before_record_request(request)
            if not filtered:
                return []
            limit = session._replayable_count(self)
            if tuple(self._match_on) != KEY_MATCHERS:  # someone changed the matchers: ask each of them
                return [i for i, (stored, _) in enumerate(self.data[:limit])
                        if requests_match(filtered, stored, self._match_on)]
            key = match_key(filtered)
            return [i for i, (stored, _) in enumerate(self.data[:limit]) if match_key(stored) == key]

        def _next_index(self, request: Any) -> int | None:
            if self._plan is None or self._plan[0] is not request:
                self._plan = (request, self._choose(request))
            return self._plan[1]

        def _choose(self, request: Any) -> int | None:
            """Non-GET: the next unplayed match. GET: the URL's next recorded state, but never one
            older than the replay's place in the recording; after the last, the last again."""
            candidates = self._candidates(request)
            if request.method not in _POLLING:
                return next((i for i in candidates if self.play_counts[i] == 0), None)
            if not candidates:
                return None
            played = [i for i in candidates if self.play_counts[i]]
            last = played[-1] if played else -1
            # the test moved on past states it did not poll for (it polled fewer times than
            # when recorded): answer with the state current at that point of the recording
            overtaken = [i for i in candidates if last < i <= self._position]
            if overtaken:
                return overtaken[-1]
            ahead = [i for i in candidates if i > last]
            return ahead[0] if ahead else last

        def can_play_response_for(self, request: Any) -> bool:
            if self._next_index(request) is not None:
                return True
            if session.mode == "replay":
                message = session.mismatch_message(self, request)
                session.misses.append(message)
                raise ReplayMiss(message)
            if session.resuming and request.method in _MUTATING and self._submits_again(request):
                message = session.mismatch_message(self, request, why=(
                    f"pytest-batch refused to send this request while resuming pending cassette {self.path}: it "
                    f"would submit again (batch {session.pending_batch_id} is still running). The submission must "
                    "match the recorded one exactly; to start over, delete the cassette (and cancel the running "
                    "batch)."))
                session.misses.append(message)
                raise ReplayMiss(message)
            return False

        def _submits_again(self, request: Any) -> bool:
            filtered = self._before_record_request(request)
            for stored, _ in self.data[: session._replayable_count(self)]:
                try:
                    match_method(filtered, stored)
                    match_url(filtered, stored)
                except AssertionError:
                    continue
                return True
            return False

        def play_response(self, request: Any) -> Any:
            index = self._next_index(request)
            self._plan = None  # playing changes what the next request gets
            if index is None:
                raise UnhandledHTTPRequestError(f"The cassette ({self._path!r}) has no answer for {request!r}")
            if self.play_counts[index] == 0 and index < self._loaded_count:
                self._played_interactions.append(self.data[index])
            self.play_counts[index] += 1
            self._position = max(self._position, index)
            return self.data[index][1]

        def __contains__(self, request: Any) -> bool:
            return self._next_index(request) is not None

    return BatchCassette
