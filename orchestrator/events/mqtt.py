"""The MQTT bridge: a stack's replica states, events and daemon status on a broker, plus steering.

Topics under ``<prefix>`` (default ``shoal/<hostname>``): ``status`` (retained
``online``/``offline``, offline being the last will), ``<project>/<service>/<n>/state``
(retained JSON, cleared with an empty retained message when the replica goes),
``<project>/events`` (not retained) and, when steering is enabled,
``<project>/cmd`` answered on ``<project>/cmd/result``.

Nothing here can slow the publisher: the bridge reads the bus through its own
bounded subscription, keeps the latest state per replica (coalesced, never
dropped, all republished after every reconnect) and a bounded deque of events
(the oldest dropped, counted and logged, when the broker is away too long).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import random
import secrets
import socket
from typing import Any, Awaitable, Callable, Iterable

import aiomqtt

from orchestrator.clock import Clock, SystemClock
from orchestrator.events.bus import EventBus, Subscription
from orchestrator.events.config import MqttConfig, TlsFiles, parse_url
from orchestrator.events.model import Event
from orchestrator.events.state import ReplicaStates, Slot
from orchestrator.events.steering import (Refusal, SteeringCommand, SteeringPolicy, parse_command,
                                          result_payload)

__all__ = ["MqttBridge", "Executor"]

log = logging.getLogger(__name__)

Executor = Callable[[SteeringCommand], Awaitable[Any]]
_DONE_IDS = 256


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, default=str).encode()


def _abandon(client: aiomqtt.Client | None) -> None:
    """Close the socket of a client whose connect was cancelled (aiomqtt leaves it open and watched)."""
    paho = getattr(client, "_client", None)
    close = getattr(paho, "_sock_close", None)
    if close is not None:
        try:
            close()
        except Exception as exc:  # best effort on a client being thrown away
            log.debug("mqtt: closing an abandoned connection: %s", exc)


class MqttBridge:
    """Publishes what happens on ``bus`` to an MQTT broker and runs allowed steering commands."""

    def __init__(self, bus: EventBus, url: str, *, prefix: str | None = None, username: str | None = None,
                 password: str | None = None, tls: TlsFiles | None = None, qos: int = 1,
                 steering: SteeringPolicy | None = None, executor: Executor | None = None,
                 known_projects: Callable[[], Iterable[str]] | None = None, queue_size: int = 1000,
                 keepalive: int = 30, timeout: float = 5.0, backoff: tuple[float, float] = (0.2, 30.0),
                 identifier: str | None = None, clock: Clock | None = None, clear_stale: bool = True) -> None:
        cfg = parse_url(url, prefix, tls, username=username, password=password)
        if steering is not None and executor is None:
            raise ValueError("steering needs an executor")
        self.cfg = cfg
        self.bus, self.qos, self.steering, self.executor = bus, qos, steering, executor
        self.prefix = cfg.prefix
        self.known_projects = known_projects or self._seen_projects
        self.queue_size, self.keepalive, self.timeout, self.backoff = queue_size, keepalive, timeout, backoff
        # unique per bridge (two bridges with one id would keep kicking each other off), stable across reconnects
        self.identifier = identifier or f"shoal-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.clock = clock or SystemClock()
        self.clear_stale = clear_stale
        self.states = ReplicaStates()
        self.connected = asyncio.Event()
        self.dropped = 0
        self.published = 0
        self.connects = 0
        self._dirty: dict[Slot, None] = {}
        self._events: collections.deque[Event] = collections.deque()
        self._results: collections.deque[tuple[str, bytes]] = collections.deque(maxlen=256)
        self._commands: asyncio.Queue[SteeringCommand] = asyncio.Queue(16)
        self._done_ids: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()
        self._wake = asyncio.Event()
        self._closing = False
        self._inflight = 0
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_config(cls, bus: EventBus, cfg: MqttConfig, executor: Executor | None = None,
                    **kwargs: Any) -> "MqttBridge":
        """A bridge from a loaded ``MqttConfig`` (``--mqtt``, ``SHOAL_MQTT_URL`` or ``daemon.json``)."""
        scheme = "mqtts" if cfg.tls is not None else "mqtt"
        host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        return cls(bus, f"{scheme}://{host}:{cfg.port}", prefix=cfg.prefix, username=cfg.username,
                   password=cfg.password, tls=cfg.tls, qos=cfg.qos, steering=cfg.steering,
                   executor=executor, queue_size=cfg.queue_size, keepalive=cfg.keepalive, **kwargs)

    # -- topics ------------------------------------------------------------------------------
    @property
    def status_topic(self) -> str:
        return f"{self.prefix}/status"

    def state_topic(self, slot: Slot) -> str:
        return f"{self.prefix}/{slot[0]}/{slot[1]}/{slot[2]}/state"

    def events_topic(self, project: str) -> str:
        return f"{self.prefix}/{project or '_'}/events"

    def result_topic(self, project: str) -> str:
        return f"{self.prefix}/{project}/cmd/result"

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Subscribe to the bus and start connecting in the background (returns at once)."""
        if self._tasks:
            raise RuntimeError("bridge already started")
        self._sub = self.bus.subscribe(maxsize=self.queue_size)
        self._tasks = [asyncio.create_task(self._consume(self._sub), name="mqtt-consume"),
                       asyncio.create_task(self._connection_loop(), name="mqtt-connection")]
        if self.steering is not None:
            self._tasks.append(asyncio.create_task(self._steer(), name="mqtt-steer"))

    async def stop(self, timeout: float = 2.0) -> None:
        """Flush what is pending (up to ``timeout``), publish ``offline`` and disconnect."""
        if self._sub is not None:
            self._sub.close()
        consume, loop = (self._tasks + [None, None])[:2]
        if consume is not None:
            await asyncio.wait([consume], timeout=timeout)
        self._closing = True
        self._wake.set()
        if loop is not None:
            if not self.connected.is_set():
                loop.cancel()
            await asyncio.wait([loop], timeout=timeout)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything published so far reached the broker; False on timeout (broker away)."""
        deadline = self.clock.monotonic() + timeout
        while self._sub is not None and (self._sub.pending() or self._pending() or self._inflight):
            if self.clock.monotonic() >= deadline:
                return False
            await self.clock.sleep(0.01)
        return True

    def stats(self) -> dict[str, Any]:
        """Counters for ``shoal info`` and logs."""
        return {"connected": self.connected.is_set(), "connects": self.connects, "published": self.published,
                "dropped": self.dropped + (self._sub.dropped if self._sub else 0),
                "pending": len(self._events) + len(self._dirty) + len(self._results)}

    def _seen_projects(self) -> set[str]:
        return self.states.projects()

    # -- bus side ----------------------------------------------------------------------------
    async def _consume(self, sub: Subscription) -> None:
        """Fold events into replica states and queue them for the broker; never waits on the broker."""
        async for ev in sub:
            self.accept(ev)

    def accept(self, ev: Event) -> None:
        """Queue ``ev``'s state changes and the event itself (synchronous, bounded)."""
        for slot in self.states.apply(ev):
            self._dirty.pop(slot, None)
            self._dirty[slot] = None
        if len(self._events) >= self.queue_size:
            self._events.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("mqtt: broker not keeping up, %d events dropped so far", self.dropped)
        self._events.append(ev)
        self._wake.set()

    # -- broker side -------------------------------------------------------------------------
    def _client(self) -> aiomqtt.Client:
        """A fresh client (constructed inside the running loop) with the offline last will."""
        tls = None
        if self.cfg.tls is not None:
            tls = aiomqtt.TLSParameters(ca_certs=self.cfg.tls.ca, certfile=self.cfg.tls.cert,
                                        keyfile=self.cfg.tls.key)
        will = aiomqtt.Will(self.status_topic, b"offline", qos=self.qos, retain=True)
        client = aiomqtt.Client(self.cfg.host, self.cfg.port, username=self.cfg.username,
                                password=self.cfg.password, identifier=self.identifier, will=will,
                                keepalive=self.keepalive, timeout=self.timeout, tls_params=tls,
                                logger=logging.getLogger(f"{__name__}.client"))
        client.pending_calls_threshold = 1000
        return client

    async def _connection_loop(self) -> None:
        """Connect, publish, reconnect with exponential backoff; forever until stopped."""
        failures = 0
        while not self._closing:
            client = None
            try:
                client = self._client()
                async with client:
                    failures = 0
                    await self._session(client)
            except asyncio.CancelledError:
                _abandon(client)
                raise
            except (aiomqtt.MqttError, OSError, ValueError) as exc:  # down, refused, bad TLS files or cert
                failures += 1
                log.log(logging.WARNING if failures == 1 else logging.DEBUG,
                        "mqtt: %s:%d unavailable (%s), retrying with backoff", self.cfg.host, self.cfg.port, exc)
            except Exception:  # a bug must not end the bridge: log it, back off, reconnect
                failures += 1
                log.exception("mqtt: session failed")
            finally:
                self.connected.clear()
            if self._closing:
                return
            low, high = self.backoff
            delay = min(high, low * 2 ** min(failures, 16)) * random.uniform(0.5, 1.0)
            await self.clock.sleep(delay)

    async def _session(self, client: aiomqtt.Client) -> None:
        """One connection: announce online, republish every state, then send and receive until it drops."""
        self.connects += 1
        await client.publish(self.status_topic, b"online", qos=self.qos, retain=True, timeout=self.timeout)
        for slot in list(self.states.states):
            self._dirty.setdefault(slot, None)
        if self.steering is not None:
            await client.subscribe(f"{self.prefix}/+/cmd", qos=self.qos, timeout=self.timeout)
        if self.clear_stale:
            await client.subscribe(f"{self.prefix}/+/+/+/state", qos=self.qos, timeout=self.timeout)
        self.connected.set()
        log.info("mqtt: connected to %s:%d as %s", self.cfg.host, self.cfg.port, self.prefix)
        tasks = [asyncio.create_task(self._sender(client)), asyncio.create_task(self._receiver(client))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()

    async def _sender(self, client: aiomqtt.Client) -> None:
        """Drain results, then states, then events; on stop, say offline and return."""
        while True:
            self._wake.clear()
            while self._pending():
                await self._send_one(client)
            if self._closing:
                await client.publish(self.status_topic, b"offline", qos=self.qos, retain=True,
                                     timeout=self.timeout)
                return
            await self._wake.wait()

    def _pending(self) -> bool:
        return bool(self._results or self._dirty or self._events)

    async def _send_one(self, client: aiomqtt.Client) -> None:
        """Publish the next message; put it back first in line if the broker goes away."""
        if self._results:
            topic, payload = self._results.popleft()
            undo: Callable[[], None] = lambda: self._results.appendleft((topic, payload))
            retain = False
        elif self._dirty:
            slot = next(iter(self._dirty))
            del self._dirty[slot]
            state = self.states.states.get(slot)
            topic, payload, retain = self.state_topic(slot), (_dumps(state) if state else b""), True
            undo = lambda: self._dirty.setdefault(slot, None)
        else:
            ev = self._events.popleft()
            topic, payload = self.events_topic(ev.project), _dumps(ev.to_json())
            undo, retain = (lambda: self._events.appendleft(ev)), False
        self._inflight += 1
        try:
            await client.publish(topic, payload, qos=self.qos, retain=retain, timeout=self.timeout)
        except BaseException:
            undo()
            raise
        finally:
            self._inflight -= 1
        self.published += 1

    async def _receiver(self, client: aiomqtt.Client) -> None:
        """Read steering commands; iterating also notices a dropped connection."""
        async for msg in client.messages:
            topic = str(msg.topic)
            if msg.retain and msg.topic.matches(f"{self.prefix}/+/+/+/state"):
                self._maybe_stale(topic, bool(msg.payload))
            if self.steering is None or not msg.topic.matches(f"{self.prefix}/+/cmd"):
                continue
            project = topic[len(self.prefix) + 1:-len("/cmd")]
            payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload).encode()
            self.handle_command(project, payload, retained=bool(msg.retain))

    def _maybe_stale(self, topic: str, present: bool) -> None:
        """A retained state the broker holds for a replica we do not have (removed while we were away): clear it."""
        parts = topic[len(self.prefix) + 1:].split("/")
        try:
            slot: Slot = (parts[0], parts[1], int(parts[2]))
        except (IndexError, ValueError):
            return
        if present and slot not in self.states.states and slot not in self._dirty:
            log.info("mqtt: clearing stale retained state %s", topic)
            self._dirty[slot] = None
            self._wake.set()

    def seed(self, events: Iterable[Event]) -> None:
        """Fold events into the replica states without sending them as events (the daemon's state at start)."""
        for ev in events:
            for slot in self.states.apply(ev):
                self._dirty.setdefault(slot, None)
        self._wake.set()

    # -- steering ----------------------------------------------------------------------------
    def handle_command(self, project: str, payload: bytes, retained: bool = False) -> None:
        """Validate one command; queue it for the executor or answer the refusal."""
        if not payload:
            return  # someone clearing a retained message on the cmd topic: nothing was asked
        outcome = parse_command(payload, project, self.steering, self.known_projects(), retained)
        if isinstance(outcome, SteeringCommand) and (project, outcome.id) in self._done_ids:
            outcome = Refusal(outcome.id, f"duplicate command id {outcome.id!r}")
        if isinstance(outcome, SteeringCommand):
            self._remember(project, outcome.id)
            try:
                self._commands.put_nowait(outcome)
                return
            except asyncio.QueueFull:
                outcome = Refusal(outcome.id, "too many commands pending")
        log.warning("mqtt steering: refused command on %s/%s/cmd: %s", self.prefix, project, outcome.reason)
        self._answer(project, result_payload(outcome, False, outcome.reason))

    def _remember(self, project: str, cid: str) -> None:
        self._done_ids[(project, cid)] = None
        while len(self._done_ids) > _DONE_IDS:
            self._done_ids.popitem(last=False)

    def _answer(self, project: str, body: dict[str, Any]) -> None:
        self._results.append((self.result_topic(project), _dumps(body)))
        self._wake.set()

    async def _steer(self) -> None:
        """Run accepted commands one at a time through the injected executor."""
        assert self.executor is not None
        while True:
            cmd = await self._commands.get()
            log.info("mqtt steering: %s %s %s", cmd.project, cmd.action, cmd.service or "")
            try:
                result = await self.executor(cmd)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the executor's failure is the command's answer
                self._answer(cmd.project, result_payload(cmd, False, str(exc) or type(exc).__name__))
                continue
            try:
                json.dumps(result)
            except (TypeError, ValueError):
                result = None
            self._answer(cmd.project, result_payload(cmd, True, "done", result))
