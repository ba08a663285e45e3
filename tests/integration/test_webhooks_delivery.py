"""Webhook delivery (SPEC.md section 4, "Webhooks"; docs/webhooks.md) against real HTTPS receivers
that require a client certificate from a private CA: what arrives (headers, body, a signature the
receiver verifies), retries with backoff and Retry-After, the failed state after the limit and
replay, the TLS failures no retry can fix (our certificate rejected, theirs untrusted) flagged on
the webhook, one slow endpoint beside a fast one, certgate's own expiry events, and a kill -9 with
200 deliveries pending: after a restart every event arrives at least once."""

import json
import ssl
import time

import pytest

from egress_fixtures import wait_for
from webhook_fixtures import (SECRET, add_webhook, hooks, receiver, store_webhook_pki,  # noqa: F401 (fixtures)
                              verify_signature, wpki)


@pytest.fixture
def setup(cg, wpki):
    store_webhook_pki(cg, wpki)
    return cg


# ---------------------------------------------------------------------------------------------
# what arrives


def test_delivery_has_the_headers_and_a_signature_the_receiver_verifies(setup, wpki, receiver, hooks):
    rcv = receiver()
    add_webhook(setup, "billing", rcv.url("/in/hook"), "--events", "invoice.paid")
    h = hooks()
    status, answer = h.post_event("invoice.paid", {"invoice": "INV-1", "amount": 42})
    assert status == 202, answer
    assert answer["deliveries"] == 1, answer
    [req] = rcv.wait(1)
    assert req.method == "POST" and req.path == "/in/hook", req
    hd = req.headers
    assert hd["content-type"] == "application/json", hd
    assert hd["certgate-event-id"] == answer["id"], hd
    assert hd["certgate-event-type"] == "invoice.paid", hd
    assert hd["user-agent"].startswith("certgate/"), hd
    assert hd["host"] == "127.0.0.1:%d" % rcv.port, hd
    assert int(hd["content-length"]) == len(req.body), hd
    assert verify_signature(SECRET, hd["certgate-signature"], req.body), hd
    assert not verify_signature("another secret", hd["certgate-signature"], req.body)
    assert not verify_signature(SECRET, hd["certgate-signature"], req.body + b" ")
    body = req.json()
    assert set(body) == {"id", "type", "created_at", "data"}, body
    assert body["id"] == answer["id"] and body["type"] == "invoice.paid", body
    assert body["data"] == {"invoice": "INV-1", "amount": 42}, body
    assert req.cn == "client.example", req.cn  # the webhook's client certificate, verified by the receiver
    [d] = h.wait_status("billing", "succeeded")
    [a] = d["history"]
    assert a["status_code"] == 200 and a.get("error") is None, d
    assert a["latency_ms"] >= 0, d
    assert h.show("billing").get("problem") is None


def test_unsigned_webhook_and_an_event_from_the_cli(setup, receiver, hooks):
    rcv = receiver()
    add_webhook(setup, "plain", rcv.url("/"), "--events", "order.created", secret=False)
    h = hooks()
    eid = h.send("order.created", {"n": 1})
    [req] = rcv.wait(1)
    assert req.event_id == eid
    assert "certgate-signature" not in req.headers, req.headers
    assert req.path == "/", req


def test_a_webhook_gets_only_the_types_it_takes(setup, receiver, hooks):
    a, b = receiver(), receiver()
    add_webhook(setup, "a", a.url(), "--events", "x.one")
    add_webhook(setup, "b", b.url(), "--events", "x.one,x.two")
    h = hooks()
    one = h.send("x.one")
    two = h.send("x.two")
    b.wait(2)
    time.sleep(0.3)
    assert a.event_ids() == [one], a.requests
    assert sorted(b.event_ids()) == sorted([one, two]), b.requests


# ---------------------------------------------------------------------------------------------
# retries


def test_fails_twice_then_succeeds_three_attempts_recorded(setup, receiver, hooks):
    rcv = receiver(lambda req, n: (503, {}, b"busy") if n < 2 else (200, {}, b"ok"))
    add_webhook(setup, "flaky", rcv.url(), "--events", "invoice.paid")
    h = hooks({"retry_base_ms": 200, "max_attempts": 5})
    eid = h.send("invoice.paid")
    [d] = h.wait_status("flaky", "succeeded", timeout=15)
    got = rcv.of(eid)
    assert len(got) == 3, got
    assert [r.headers["certgate-delivery-attempt"] for r in got] == ["1", "2", "3"]
    assert [a["status_code"] for a in d["history"]] == [503, 503, 200], d
    assert "503" in d["history"][0]["error"], d
    assert d["attempts"] == 3, d
    # backoff: the first retry after 100..300 ms, the second after 200..600 ms (jittered)
    gap1, gap2 = got[1].t - got[0].t, got[2].t - got[1].t
    assert 0.08 <= gap1 <= 1.5 and 0.15 <= gap2 <= 2.5, (gap1, gap2)


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_retry_after_is_honoured(setup, receiver, hooks, form):
    def respond(req, n):
        if n == 0:
            if form == "seconds":
                return 503, {"Retry-After": "2"}, b"later"
            when = time.gmtime(time.time() + 3)
            return 429, {"Retry-After": time.strftime("%a, %d %b %Y %H:%M:%S GMT", when)}, b"later"
        return 200, {}, b"ok"

    rcv = receiver(respond)
    add_webhook(setup, "polite", rcv.url(), "--events", "invoice.paid")
    h = hooks({"retry_base_ms": 50})  # the backoff alone would retry within 100 ms
    eid = h.send("invoice.paid")
    h.wait_status("polite", "succeeded", timeout=15)
    first, second = rcv.of(eid)
    assert second.t - first.t >= 1.8, second.t - first.t


def test_failed_after_the_limit_then_replayed(setup, receiver, hooks):
    mode = {"ok": False}
    rcv = receiver(lambda req, n: (200, {}, b"ok") if mode["ok"] else (500, {}, b"broken"))
    add_webhook(setup, "down", rcv.url(), "--events", "invoice.paid")
    h = hooks({"retry_base_ms": 100, "max_attempts": 3})
    eid = h.send("invoice.paid")
    [d] = h.wait_status("down", "failed", timeout=15)
    assert d["attempts"] == 3 and [a["status_code"] for a in d["history"]] == [500, 500, 500], d
    assert len(rcv.of(eid)) == 3
    time.sleep(0.5)
    assert len(rcv.of(eid)) == 3  # given up: no fourth
    mode["ok"] = True
    setup.ok("webhook", "replay", str(d["id"]))
    [d] = h.wait_status("down", "succeeded", timeout=10)
    assert len(rcv.of(eid)) == 4
    assert d["history"][-1]["status_code"] == 200, d


def test_disabled_webhook_fails_its_pending_deliveries_and_replay_sends_them(setup, receiver, hooks):
    rcv = receiver()
    add_webhook(setup, "paused", rcv.url(), "--events", "invoice.paid")
    eid = json.loads(setup.ok("event", "send", "invoice.paid", "--json").out)["id"]  # before the daemon runs
    setup.ok("webhook", "set", "paused", "--disabled")
    h = hooks()
    [d] = h.wait_status("paused", "failed")
    assert "disabled" in d["history"][-1]["error"], d
    assert rcv.requests == []
    assert h.show("paused").get("problem") is None  # a pause is no problem of the endpoint
    setup.ok("webhook", "set", "paused", "--enabled")
    setup.ok("webhook", "replay", str(d["id"]))
    h.wait_status("paused", "succeeded")
    assert rcv.event_ids() == [eid]


# ---------------------------------------------------------------------------------------------
# TLS failures no retry can fix


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_rejected_client_certificate_fails_at_once_and_flags_the_webhook(setup, wpki, receiver, hooks, version):
    rcv = receiver(client_ca=wpki.root2)  # trusts another CA than our client certificate's
    v = getattr(ssl.TLSVersion, version)
    rcv.ctx.minimum_version = rcv.ctx.maximum_version = v
    add_webhook(setup, "strict", rcv.url(), "--events", "invoice.paid")
    h = hooks({"max_attempts": 12})
    h.send("invoice.paid")
    [d] = h.wait_status("strict", "failed", timeout=10)
    assert d["attempts"] == 1, d["history"]  # not twelve timeouts
    err = d["history"][0]["error"]
    dest = "127.0.0.1:%d" % rcv.port
    assert "%s rejected the client certificate 'hook-client'" % dest in err, err
    assert rcv.requests == [] and rcv.refused, rcv.refused
    w = h.show("strict")
    assert "your client certificate 'hook-client' was rejected by %s" % dest in w["problem"], w
    # the receiver fixes its side: the next success clears the flag
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(wpki.server_full), str(wpki.server_key))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(str(wpki.root))
    rcv.ctx = ctx
    setup.ok("webhook", "replay", str(d["id"]))
    h.wait_status("strict", "succeeded")
    assert wait_for(lambda: h.show("strict").get("problem") is None, 5), h.show("strict")


def test_untrusted_receiver_fails_at_once_and_flags_the_webhook(setup, wpki, receiver, hooks):
    rcv = receiver(cert=wpki.other_full, key=wpki.other_key)  # its certificate comes from the second root
    add_webhook(setup, "spoof", rcv.url(), "--events", "invoice.paid", "--trust", "ca-only")
    h = hooks()
    h.send("invoice.paid")
    [d] = h.wait_status("spoof", "failed", timeout=10)
    assert d["attempts"] == 1, d
    dest = "127.0.0.1:%d" % rcv.port
    assert "the certificate of %s failed verification" % dest in d["history"][0]["error"], d
    assert rcv.requests == []
    w = h.show("spoof")
    assert "%s's certificate failed verification" % dest in w["problem"], w


def test_unreachable_endpoint_is_retried_not_flagged(setup, hooks):
    from egress_fixtures import free_port
    add_webhook(setup, "gone", "https://127.0.0.1:%d/" % free_port(), "--events", "invoice.paid")
    h = hooks({"retry_base_ms": 100, "max_attempts": 2})
    h.send("invoice.paid")
    [d] = h.wait_status("gone", "failed", timeout=10)
    assert d["attempts"] == 2 and all("refused" in a["error"] for a in d["history"]), d
    assert h.show("gone").get("problem") is None


# ---------------------------------------------------------------------------------------------
# one slow endpoint


def test_a_slow_endpoint_does_not_delay_another(setup, receiver, hooks):
    def slow_respond(req, n):
        time.sleep(3)
        return 200, {}, b"ok"

    slow, fast = receiver(slow_respond), receiver()
    add_webhook(setup, "slow", slow.url(), "--events", "slow.x")
    add_webhook(setup, "fast", fast.url(), "--events", "fast.x")
    h = hooks({"per_webhook": 2, "concurrency": 8, "timeout_ms": 10000})
    for _ in range(6):
        h.send("slow.x")
    time.sleep(0.3)  # the slow endpoint now holds its two slots
    t0 = time.monotonic()
    ids = [h.send("fast.x") for _ in range(3)]
    fast.wait(3, timeout=10)
    took = time.monotonic() - t0
    assert sorted(fast.event_ids()) == sorted(ids)
    assert took < 2.5, took  # not behind the slow one's 3 s answers
    assert len(slow.requests) <= 2, slow.requests  # at most per_webhook in flight there


# ---------------------------------------------------------------------------------------------
# certgate's own events


def test_expiring_certificate_event_once(setup, wpki, receiver, hooks):
    rcv = receiver()
    setup.ok("cert", "add", "soon", wpki.expiring, "--key", wpki.expiring_key, "--chain", wpki.inter)
    add_webhook(setup, "ops", rcv.url(), "--events", "certificate.expiring,certificate.expired")
    h = hooks(name="first")
    [req] = rcv.wait(1, timeout=10)
    body = req.json()
    assert body["type"] == "certificate.expiring", body
    assert body["data"]["name"] == "soon" and body["data"]["threshold_days"] == 30, body
    assert body["data"]["fingerprint_sha256"] == wpki.fingerprint(wpki.expiring), body
    h.d.check_clean()
    hooks(name="second")  # a restart does not send it again
    time.sleep(2.0)
    assert len(rcv.requests) == 1, rcv.requests


# ---------------------------------------------------------------------------------------------
# at least once


def test_kill9_with_200_pending_then_restart_loses_nothing(setup, receiver, hooks):
    def respond(req, n):
        time.sleep(0.02)
        return 200, {}, b"ok"

    rcv = receiver(respond)
    add_webhook(setup, "bulk", rcv.url(), "--events", "bulk.x")
    h = hooks({"per_webhook": 4}, name="doomed")
    ids = set()
    for i in range(200):
        status, answer = h.post_event("bulk.x", {"i": i})
        assert status == 202, answer
        ids.add(answer["id"])
    wait_for(lambda: len(rcv.requests) >= 10, 10)
    h.d.proc.kill()  # kill -9: leases held, attempts in flight
    h.d.proc.wait()
    h.d.checked = True
    seen_before = set(rcv.event_ids())
    assert len(seen_before) < 200, "everything arrived before the kill: the test proves nothing"
    hooks({"per_webhook": 8}, name="restarted")
    assert wait_for(lambda: set(rcv.event_ids()) >= ids, 60, step=0.2), len(ids - set(rcv.event_ids()))
    assert set(rcv.event_ids()) == ids  # nothing else either
    h.wait_status("bulk", "succeeded", n=200, timeout=20)


# ---------------------------------------------------------------------------------------------
# reuse, as in the egress


def test_connections_are_kept_alive_and_tls_sessions_resumed(setup, receiver, hooks):
    close = {"on": False}
    rcv = receiver(lambda req, n: (200, {"Connection": "close"} if close["on"] else {}, b"ok"))
    add_webhook(setup, "reuse", rcv.url(), "--events", "x.y")
    h = hooks()
    for i in range(5):  # one after the other: each done (its connection back in the pool) before the next
        h.send("x.y")
        h.wait_status("reuse", "succeeded", n=i + 1)
    conns = {r.conn for r in rcv.requests}
    assert len(conns) == 1, [r.conn for r in rcv.requests]  # one keep-alive connection for all five
    close["on"] = True
    for i in range(5, 9):
        h.send("x.y")
        h.wait_status("reuse", "succeeded", n=i + 1)
    later = rcv.requests[6:]
    assert len({r.conn for r in later}) == len(later)  # the receiver closes each one ...
    assert all(r.resumed for r in later), [r.resumed for r in later]  # ... and the next resumes the session
