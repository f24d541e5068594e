"""A real OpenAI chat-completions server on 127.0.0.1 for the judge tests and benchmark.

Each story is scripted by a marker in its text, ``[[script:NAME]]`` (default "valid"); the
server counts requests per story (by the text of the first user turn), so "first request
fails, second succeeds" scripts work under any concurrency. It records every request and
the largest number of requests in flight at once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCORES = (7, 6, 8, 5, 9)  # Creativity, Originality, Narrative Flow, Emotional Impact, Imagery
VALID_REPLY = (
    "* **Creativity:** 7\n* **Originality:** 6\n* **Narrative Flow:** 8\n"
    "* **Emotional Impact:** 5\n* **Imagery:** 9"
)
PROSE_REPLY = (
    "Here is my evaluation of the story.\n\nThe prose is lively.\n\n"
    "- Creativity: 7/10\n- Originality: Score: 6\n- Narrative Flow: 8.0\n"
    "- Emotional Impact: 5 out of 10\n- Imagery: **9**\n\nOverall a good piece."
)
GARBAGE_REPLY = "I really enjoyed this story! It was wonderful."
RESPONSE_MODEL = "judge-test-2026-11-27"
_SCRIPT = re.compile(r"\[\[script:([a-z0-9-]+)\]\]")


class JudgeServer:
    """Start with ``start()``; ``url`` is the base URL to give the openai client."""

    def __init__(self, *, latency: float = 0.0, stall_s: float = 3.0, retry_after: str = "0.2"):
        self.latency = latency
        self.stall_s = stall_s
        self.retry_after = retry_after
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.counts: Counter[str] = Counter()
        self.requests: list[dict] = []  # {"story": first user turn, "messages": n, "auth": header, "script": name}
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> JudgeServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between headers and body

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                owner._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = json.loads(request.rfile.read(int(request.headers.get("Content-Length", "0"))))
        if request.path != "/v1/chat/completions":
            return self._send(request, 404, {"error": {"message": "no such route"}}, {})
        story = body["messages"][0]["content"]
        found = _SCRIPT.search(story)
        script = found.group(1) if found else "valid"
        with self.lock:
            self.counts[story] += 1
            nth = self.counts[story]
            number = len(self.requests) + 1
            self.requests.append({"story": story, "messages": len(body["messages"]), "script": script,
                                  "auth": request.headers.get("Authorization"), "body": body})
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.latency)
            reply = self._script(script, nth, number, request.headers.get("Authorization", ""))
        finally:
            with self.lock:  # before the client can see the reply, so the count is never over
                self.in_flight -= 1
        if reply is None:
            request.close_connection = True  # close the socket without a response
            return None
        try:
            self._send(request, *reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def _script(self, script: str, nth: int, number: int, auth: str) -> tuple[int, dict | str, dict] | None:
        """(status, JSON body, headers) for this request, or None to drop the connection."""
        first = nth == 1
        if script == "garbage" or (script == "garbage-then-valid" and first):
            return self._completion(GARBAGE_REPLY, number)
        if script == "rate-limit" and first:
            return 429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"retry-after": self.retry_after}
        if script == "server-error" and first:
            return 500, {"error": {"message": "boom", "type": "server_error"}}, {}
        if script == "stall" and first:
            time.sleep(self.stall_s)
        if script == "drop" and first:
            return None
        if script == "not-json" and first:
            return 200, "<html>upstream proxy error</html>", {"Content-Type": "text/html"}
        if script == "unauthorized":
            return 401, {"error": {"message": f"Incorrect API key provided: {auth}"}}, {}
        if script == "always-500":
            return 500, {"error": {"message": "down"}}, {}
        return self._completion(PROSE_REPLY if script == "prose" else VALID_REPLY, number)

    @staticmethod
    def _completion(text: str, number: int) -> tuple[int, dict, dict]:
        return 200, {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": RESPONSE_MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }, {"x-request-id": f"req-{number}"}

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, payload: dict | str, headers: dict) -> None:
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        request.send_response(status)
        if "Content-Type" not in headers:
            request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)
