"""An AMI server speaking just enough of the protocol to test our client against."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ivr.asterisk.ami import encode, read_message


@dataclass
class FakeAmi:
    username: str = "tongdai"
    secret: str = "s3cret"
    answer_pings: bool = True
    logins: int = 0
    actions: list[dict] = field(default_factory=list)
    port: int = 0
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Like Asterisk going down: the listener closes and every connection drops."""
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def drop(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def send_event(self, **fields: str) -> None:
        for writer in self._writers:
            writer.write(encode(fields))
            await writer.drain()

    async def _client(self, reader, writer) -> None:
        self._writers.append(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                message = await read_message(reader)
                self.actions.append(message)
                reply = self._reply(message)
                if reply is not None:
                    writer.write(encode({**reply, "ActionID": message.get("ActionID", "")}))
                    await writer.drain()
        except (ConnectionError, OSError):
            pass

    def _reply(self, message: dict) -> dict | None:
        action = message.get("Action")
        if action == "Login":
            if (message.get("Username"), message.get("Secret")) != (self.username, self.secret):
                return {"Response": "Error", "Message": "Authentication failed"}
            self.logins += 1
            return {"Response": "Success", "Message": "Authentication accepted"}
        if action == "Ping":
            return {"Response": "Success", "Ping": "Pong"} if self.answer_pings else None
        if action == "Originate":
            if not message.get("Channel", "").startswith("PJSIP/"):
                return {"Response": "Error", "Message": "Originate failed"}
            return {"Response": "Success", "Message": "Originate successfully queued"}
        return {"Response": "Success"}
