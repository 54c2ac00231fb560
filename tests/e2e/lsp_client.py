"""A minimal Language Server Protocol client over stdio, enough to drive yaml-language-server the
way an editor does: initialize, answer the server's own requests (workspace/configuration...),
open and change documents, ask for completion and hover, and collect published diagnostics."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any


class LspError(RuntimeError):
    pass


class LspClient:
    def __init__(self, argv: list[str], settings: dict[str, Any], log_path: Path, cwd: Path | None = None, env=None):
        self.settings = settings
        self._log = open(log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, cwd=cwd, env=env
        )
        self._next_id = 0
        self._responses: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.diagnostics: dict[str, list[dict]] = {}
        self._diag_cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- framing -------------------------------------------------------------------------

    def _send(self, msg: dict) -> None:
        body = json.dumps(msg).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        self._log.write(">> " + json.dumps(msg)[:2000] + "\n")
        self._log.flush()

    def _read_message(self) -> dict | None:
        out = self.proc.stdout
        assert out is not None
        length = None
        while True:
            line = out.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
        if length is None:
            return None
        return json.loads(out.read(length))

    def _read_loop(self) -> None:
        while True:
            msg = self._read_message()
            if msg is None:
                break
            self._log.write("<< " + json.dumps(msg)[:2000] + "\n")
            self._log.flush()
            if "id" in msg and "method" in msg:
                self._answer_server_request(msg)
            elif "id" in msg:
                q = self._responses.get(msg["id"])
                if q is not None:
                    q.put(msg)
            elif msg.get("method") == "textDocument/publishDiagnostics":
                with self._diag_cond:
                    self.diagnostics[msg["params"]["uri"]] = msg["params"]["diagnostics"]
                    self._diag_cond.notify_all()

    def _answer_server_request(self, msg: dict) -> None:
        method = msg["method"]
        if method == "workspace/configuration":
            result = []
            for item in msg["params"].get("items", []):
                section = item.get("section")
                value: Any = self.settings
                for part in (section.split(".") if section else []):
                    value = value.get(part) if isinstance(value, dict) else None
                result.append(value)
        else:  # client/registerCapability, window/workDoneProgress/create, ...
            result = None
        self._send({"jsonrpc": "2.0", "id": msg["id"], "result": result})

    # -- requests --------------------------------------------------------------------------

    def request(self, method: str, params: Any, timeout: float = 30) -> Any:
        with self._lock:
            self._next_id += 1
            rid = self._next_id
            q: queue.Queue = queue.Queue()
            self._responses[rid] = q
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        try:
            msg = q.get(timeout=timeout)
        except queue.Empty:
            raise LspError(f"no answer to {method} within {timeout}s (server log: {self._log.name})")
        if "error" in msg:
            raise LspError(f"{method} failed: {msg['error']}")
        return msg.get("result")

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def initialize(self, root: Path) -> dict:
        caps = {
            "textDocument": {
                "completion": {
                    "completionItem": {"snippetSupport": True, "documentationFormat": ["markdown", "plaintext"]},
                },
                "hover": {"contentFormat": ["markdown", "plaintext"]},
                "publishDiagnostics": {"relatedInformation": True},
                "synchronization": {"didSave": True, "dynamicRegistration": False},
            },
            "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": True}},
        }
        result = self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": caps,
            },
        )
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})
        return result

    def open(self, uri: str, text: str, version: int = 1) -> None:
        with self._diag_cond:
            self.diagnostics.pop(uri, None)
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": version, "text": text}})

    def wait_diagnostics(self, uri: str, timeout: float = 30, predicate=lambda d: True) -> list[dict]:
        """The diagnostics the server publishes for `uri` once `predicate` holds for them."""
        deadline = time.monotonic() + timeout
        with self._diag_cond:
            while True:
                got = self.diagnostics.get(uri)
                if got is not None and predicate(got):
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LspError(f"no matching diagnostics for {uri} within {timeout}s; last: {got}")
                self._diag_cond.wait(left)

    def completion(self, uri: str, line: int, character: int) -> list[dict]:
        result = self.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
        if result is None:
            return []
        return result["items"] if isinstance(result, dict) else result

    def hover(self, uri: str, line: int, character: int) -> str:
        result = self.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
        if not result:
            return ""
        contents = result["contents"]
        if isinstance(contents, dict):
            return contents.get("value", "")
        if isinstance(contents, list):
            return "\n".join(c if isinstance(c, str) else c.get("value", "") for c in contents)
        return str(contents)

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        finally:
            self._log.close()
