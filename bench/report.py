#!/usr/bin/env python3
"""report.py RESULTS META CLK_TCK — the markdown of bench/suite.sh's run.

RESULTS has one line per measurement: PHASE TARGET SCENARIO ROUND CPU-TICKS
JSON (JSON as printed by `enmasse bench --json`). Cells are medians over the
rounds; throughput cells count only runs without errors (and, where
delivery is assured, without loss, unless the run's time limit ended it:
then the rate is over what had arrived, marked †).
"""
import json
import statistics
import sys

results, meta, tick = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
rows = {}  # (phase, scenario, target) -> [(json, cpu seconds)]
for line in open(results):
    phase, target, sc, _rnd, cpu, js = line.rstrip("\n").split(" ", 5)
    try:
        r = json.loads(js)
    except ValueError:
        r = {"failed": True}
    rows.setdefault((phase, sc, target), []).append((r, int(cpu) / tick))


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def num(v):
    return "{:,.0f}".format(v)


def targets(prefix_ok):
    seen = []
    for (phase, sc, t) in rows:
        if phase == "load" and prefix_ok(sc) and t not in seen and t != "relay":
            seen.append(t)
    return sorted(seen, key=lambda t: (not t.startswith("enmasse"), t))


na = {(sc, t): r[0][0].get("reason", "n/a") for (ph, sc, t), r in rows.items() if ph == "na"}
notes = []


def note(text):
    if text not in notes:
        notes.append(text)
    return "⁽%d⁾" % (notes.index(text) + 1)


def rate_cell(sc, t, key="recv_rate", lossy=False, fan=1):
    """Median rate and CPU-s per 100k messages; returns (text, rate)."""
    if (sc, t) in na:
        return "n/a " + note(na[(sc, t)]), None
    runs = rows.get(("load", sc, t), [])
    ok = [(r, c) for r, c in runs if not r.get("failed") and r.get("errors", 1) == 0 and r.get(key)
          and (lossy or r.get("lost", 0) == 0 or r.get("time_limited"))]
    if not ok:
        if runs:
            r = runs[-1][0]
            why = "failed" if r.get("failed") else "errors %s, lost %s" % (r.get("errors"), r.get("lost"))
            return "– (%s)" % why, None
        return "–", None
    rate = med([r[key] for r, _ in ok])
    n = lambda r: r.get("received") or r.get("sent") or 1
    cpu = med([c / n(r) * 1e5 for r, c in ok])
    cell = "%s/s (%.2f)" % (num(rate), cpu)
    if lossy:
        # Loss of at-most-once runs; a run the time limit cut counts its
        # messages still in flight as lost, so only whole runs count here.
        lost = med([100.0 * r.get("lost", 0) / max(r.get("sent", 0) * fan, 1) for r, _ in ok if not r.get("time_limited")])
        if lost and lost >= 0.05:
            cell += ", %.1f%% lost" % lost
    if any(r.get("time_limited") for r, _ in ok):
        cell += " †"
    granted = {r.get("granted_qos") for r, _ in ok} - {None}
    if sc.startswith("mqtt-qos2") and granted and max(granted) < 2:
        cell = "n/a " + note("RabbitMQ 3.10 grants QoS 1 for a QoS 2 subscription and answers a QoS 2 PUBLISH with PUBACK: "
                             "no exactly-once (measured as QoS 1: %s)" % cell)
        rate = None
    if len(ok) < len(runs):
        cell += " [%d/%d runs]" % (len(ok), len(runs))
    return cell, rate


def ratio(a, b, inverse=False):
    if not a or not b:
        return "–"
    return "%.2f×" % ((b / a) if inverse else (a / b))


def table(title, servers, base, scen, lat):
    if not servers:
        return []
    peers = [s for s in servers if not s.startswith("enmasse")]
    out = ["", title, ""]
    out.append("| scenario | " + " | ".join(servers) + "".join(" | %s ÷ %s" % (base(p), p) for p in peers) + " |")
    out.append("|---|" + "---|" * (len(servers) + len(peers)))
    for sc, label, kw in scen:
        cells, rates = [], {}
        for s in servers:
            c, rates[s] = rate_cell(sc, s, **kw)
            cells.append(c)
        if all(c.startswith("–") for c in cells):
            continue
        out.append("| %s | %s |%s" % (label, " | ".join(cells), "".join(" %s |" % ratio(rates.get(base(p)), rates[p]) for p in peers)))
    for sc, label in lat:
        cells, p99 = [], {}
        for s in servers:
            runs = [r for r, _ in rows.get(("load", sc, s), []) if r.get("received")]
            a, b = med([r.get("p50_ms") for r in runs]), med([r.get("p99_ms") for r in runs])
            p99[s] = b
            cells.append("–" if a is None else "%.2f / %.2f ms" % (a, b))
        if all(c == "–" for c in cells):
            continue
        out.append("| %s | %s |%s" % (label, " | ".join(cells), "".join(" %s |" % ratio(p99.get(base(p)), p99[p]) for p in peers)))
    return out


m = meta
lines = []
lines.append("Run of %s: `%s` — %d of %d rounds complete%s, %d s in all (build and peers' start included)." % (
    m["date"], m["command"], m["rounds_done"], m["rounds"],
    " (%d runs not started: the time budget was spent)" % m["skipped"] if m.get("skipped") else "", m["seconds"]))
lines.append("")
lines.append("Machine: %s, %s, %s; load average %s at the end — a shared machine, so compare ratios within this "
             "run, not absolute numbers across runs. %s%s"
             "enmasse %s, %s. Peers (Debian packages): Mosquitto %s, RabbitMQ %s, NATS %s, ActiveMQ %s, "
             "Qpid Proton C example broker %s." % (
                 m["cpu"], m["mem"], m["os"], m["loadavg_end"],
                 "**Pinned**: every server (all its threads) on CPU 0 and the load generator on CPU 1 (`taskset`), "
                 "as if each had a one-core machine of its own. " if m.get("pinned") else "",
                 "While one server is measured the others are paused (SIGSTOP), so none of their idle threads "
                 "shares the cores. " if m.get("alone") else "",
                 m["enmasse"], m["go"], m["versions"]["mosquitto"],
                 m["versions"]["rabbitmq"], m["versions"]["nats"], m["versions"]["activemq"], m["versions"]["proton"]))
lines.append("")
lines.append("Cells: median received msg/s over the rounds (deliveries for fan-out) and, in parentheses, the server's CPU "
             "seconds per 100,000 messages; ratios are enmasse ÷ peer (above 1: enmasse faster; for latency and memory "
             "the ratio of p99 or KiB, below 1: enmasse better). 100-byte bodies, %s messages per throughput run "
             "(half for QoS 2, a tenth per subscriber for fan-out at 20,000 msg/s), each run bounded by --time-limit %d s "
             "(† a run it ended: the rate is over what had arrived)." % (num(m["count"]), m["limit"]))

amqp = targets(lambda sc: sc.startswith("amqp-"))
mqtt = targets(lambda sc: sc.startswith("mqtt-"))
lines += table("**AMQP 1.0** (enmasse's anycast row uses a router address; the peers have no direct routing and run "
               "it on a queue. Durable: `header.durable` and durable termini; RabbitMQ declares a durable queue and "
               "fsyncs, the Proton example broker keeps everything in memory whatever the flag)",
               amqp, lambda p: "enmasse",
               [("amqp-anycast-1x1", "anycast 1→1, unsettled", {}),
                ("amqp-queue-1x1", "queue 1→1, unsettled", {}),
                ("amqp-queue-1x1-durable", "queue 1→1, durable", {}),
                ("amqp-fill", "fill %s (no consumer), send rate" % num(m["fill"]), {"key": "send_rate"}),
                ("amqp-drain", "then drain, receive rate", {})],
               [("amqp-latency-1000", "p50 / p99 at 1,000 msg/s (ratio of p99)")])
fills = []
for t in amqp:
    f = rows.get(("load", "amqp-fill", t))
    rss = rows.get(("rss", "amqp-fill-rss", t))
    d = rows.get(("load", "amqp-drain", t))
    if f:
        r = f[0][0]
        txt = "%s: %s of %s queued" % (t, num(r.get("sent", 0) - r.get("errors", 0)), num(m["fill"]))
        if r.get("time_limited"):
            txt += " in the %d s limit" % m["fill_limit"]
        if rss:
            txt += ", RSS then %.0f MiB" % (rss[0][0].get("rss_kb", 0) / 1024)
        if d:
            txt += ", %s drained" % num(d[0][0].get("received", 0))
        fills.append(txt)
if fills:
    lines += ["", "Fill-then-drain (once per server, each half bounded by %d s): %s." % (m["fill_limit"], "; ".join(fills))]

mbase = lambda p: "enmasse-" + p.rsplit("-", 1)[1]
lines += table("**MQTT** (`-5`: MQTT 5 through paho.golang; `-311`: 3.1.1 through enmasse bench's own client; each peer "
               "is compared with enmasse driven by the same client and version)",
               mqtt, mbase,
               [("mqtt-qos0-1x1", "QoS 0 1→1", {"lossy": True}),
                ("mqtt-qos1-1x1", "QoS 1 1→1", {}),
                ("mqtt-qos2-1x1", "QoS 2 1→1", {}),
                ("mqtt-qos0-1x10", "QoS 0 1→10 fan-out (deliveries)", {"lossy": True, "fan": 10}),
                ("mqtt-backlog", "QoS 1 persistent session: fill %s, send rate" % num(m.get("mqtt_fill", 0)), {"key": "send_rate"}),
                ("mqtt-backlog", "then drain on reconnect, receive rate", {})],
               [("mqtt-latency-1000", "QoS 1 p50 / p99 at 1,000 msg/s (ratio of p99)")])

# Idle connections.
idle = {(sc, t): r[0][0] for (ph, sc, t), r in rows.items() if ph == "idle"}
if idle:
    servers = sorted({t for _, t in idle}, key=lambda t: (t != "enmasse", t))
    lines += ["", "**%s idle connections** (AMQP: SASL and open; MQTT: 3.1.1 CONNECT, keep-alive 0; fresh servers before "
              "any load; server RSS after minus before, per connection):" % num(m["idle"]), ""]
    peers = [s for s in servers if s != "enmasse"]
    lines.append("| | " + " | ".join(servers) + "".join(" | enmasse ÷ %s" % p for p in peers) + " |")
    lines.append("|---|" + "---|" * (len(servers) + len(peers)))
    for proto in ("amqp", "mqtt"):
        cells, per = [], {}
        for s in servers:
            r = idle.get(("idle-" + proto, s))
            if not r:
                cells.append("–")
                per[s] = None
                continue
            if r.get("failed") or not r.get("opened"):
                cells.append("– (%s)" % (r.get("first_error") or "failed")[:60])
                per[s] = None
                continue
            per[s] = r.get("rss_per_conn_kb") or 0.0
            c = "%.1f KiB (+%.0f MiB)" % (per[s], (r["rss_after_kb"] - r["rss_before_kb"]) / 1024)
            if r["opened"] < r["idle_conns"]:
                c += ", only %s opened" % num(r["opened"])
            cells.append(c)
        lines.append("| %s | %s |%s" % (proto.upper(), " | ".join(cells), "".join(" %s |" % ratio(per.get("enmasse"), per[p]) for p in peers)))

# Totals.
tot = {t: r[0][0] for (ph, sc, t), r in rows.items() if ph == "total"}
if tot:
    servers = sorted(tot, key=lambda t: (t != "enmasse", t))
    reset = all(v.get("hwm_reset") for v in tot.values())
    lines += ["", "Each server over the load phase (fill-drain and all rounds%s): CPU seconds %s; peak RSS %s." % (
        "" if reset else ", idle phase included in the peak",
        ", ".join("%s %.1f" % (s, tot[s]["cpu_ticks"] / tick) for s in servers),
        ", ".join("%s %.0f MiB" % (s, tot[s]["peak_rss_kb"] / 1024) for s in servers))]
    lines.append("enmasse is one process for AMQP and MQTT, so its CPU covers %s; each peer's covers only "
                 "the scenarios it ran, so these totals compare servers only together with the per-100k figures above."
                 % ("both tables" if amqp and mqtt else "every scenario it ran"))

relay = med([r.get("relay_rate") for r, _ in rows.get(("load", "relay", "relay"), [])])
if relay:
    best = max([v for v in [rate_cell("amqp-anycast-1x1", "enmasse")[1], rate_cell("amqp-queue-1x1", "enmasse")[1]] if v] or [0])
    lines += ["", "Plain TCP relay of the same 100-byte stream on loopback (`enmasse bench --relay`, batched writes, no "
              "per-message work), this machine's ceiling%s: %s msg/s%s." % (
                  " on the load generator's one CPU" if m.get("pinned") else "", num(relay), "; enmasse's best AMQP 1→1 row above is %.1f%% of it" % (100 * best / relay) if best else "")]
if notes:
    lines.append("")
    for i, n in enumerate(notes):
        lines.append("⁽%d⁾ %s  " % (i + 1, n))
print("\n".join(lines) + "\n")
