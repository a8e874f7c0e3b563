"""The fault suite's driver (scripts/fault is its command; see tests/fault/README.md).

Each nemesis runs on a fresh three-broker cluster in fresh data directories: start, create the
topic, run the workload, let it warm up, do the damage, hold it, heal, wait until every broker is
back in every ISR, run a little longer, stop the workload, read everything back, check. Exit 0
when every nemesis ran with zero violations, 1 on a violation, 2 on bad usage, 77 when skipped
(not root, or no network namespaces)."""
import argparse
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nemesis  # noqa: E402
import netns  # noqa: E402
from nscluster import Cluster  # noqa: E402
from txn import TxnWorkload, check_txn  # noqa: E402
from workload import CLIENT_LOG, Workload, check, read_all  # noqa: E402

SKIP = 77  # CTest's SKIP_RETURN_CODE
PARTITIONS = 3
COLUMNS = ["nemesis", "sent", "acked", "failed", "read", "lost", "duplicated", "reordered",
           "unexpected", "backwards", "max_unavail_s", "txn_committed", "txn_aborted", "txn_unknown",
           "txn_bad", "verdict"]


def one(name, net, binary, run_dir, rng, hold, log):
    topic = f"fault-{name}"
    c = Cluster(net, run_dir, binary)
    handler = logging.FileHandler(os.path.join(run_dir, "clients.log"))
    CLIENT_LOG.addHandler(handler)
    w = tw = None
    try:
        c.start(small_disks=name == "disk-full")
        c.create_topic(topic, PARTITIONS)
        c.create_topic(f"{topic}-txn", PARTITIONS)
        w = Workload(c.bootstrap, topic, PARTITIONS)
        tw = TxnWorkload(c.bootstrap, f"{topic}-txn", PARTITIONS, rng.random())
        w.start()
        tw.start()
        time.sleep(4)
        fault = nemesis.NEMESES[name](c, net, topic, rng)
        log(f"  {name}: {fault.what}; holding {hold} s")
        time.sleep(hold)
        fault.heal()
        log(f"  {name}: healed; waiting for full ISRs")
        c.wait_healthy(topic, PARTITIONS, 90)
        time.sleep(4)
        w.stop()
        tw.stop()
        counts, lines = check(w, read_all(c.bootstrap, topic, PARTITIONS))
        tcounts, tlines = check_txn(tw, read_all(c.bootstrap, f"{topic}-txn", PARTITIONS, decode=bytes.decode))
        counts.update(tcounts)
        lines += tlines
    except Exception as e:  # noqa: BLE001 (a cluster that never recovers is a finding too)
        counts, lines = {}, [f"run failed: {e!r}", traceback.format_exc().rstrip()]
    finally:
        for x in (w, tw):  # also on Ctrl-C: no client may outlive its cluster
            if x is not None:
                x.stop_flag.set()
        net.heal()
        c.shutdown()
        CLIENT_LOG.removeHandler(handler)
        handler.close()
    return counts, lines


def table(rows):
    widths = [max([len(col)] + [len(str(r.get(col, "-"))) for r in rows]) for col in COLUMNS]
    out = ["  ".join(col.ljust(w) for col, w in zip(COLUMNS, widths))]
    out += ["  ".join(str(r.get(col, "-")).ljust(w) for col, w in zip(COLUMNS, widths)) for r in rows]
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="scripts/fault", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--long", action="store_true", help="every nemesis, longer holds (default: the short CI profile)")
    ap.add_argument("--seed", type=int, help="replay a run: the same victims and order (default: random)")
    ap.add_argument("--nemesis", action="append", choices=sorted(nemesis.NEMESES),
                    help="run only this nemesis (repeatable)")
    ap.add_argument("--hold", type=float, help="seconds each fault lasts (default 8, --long 15)")
    ap.add_argument("--binary", default=os.environ.get("KBROKER_BIN", "build/kbroker"))
    ap.add_argument("--logs", help="where a failing run's logs are kept (default: a new directory under /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the logs of passing runs too")
    args = ap.parse_args(argv)

    if not netns.is_root():
        print("fault suite skipped: it creates network namespaces and needs root", file=sys.stderr)
        return SKIP
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        print(f"fault suite: {binary} is not an executable kbroker (set KBROKER_BIN or --binary)", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    names = args.nemesis or (sorted(nemesis.NEMESES) if args.long else list(nemesis.SHORT))
    hold = args.hold or (15 if args.long else 8)
    rng = random.Random(seed)
    if args.long and not args.nemesis:
        rng.shuffle(names)
    root = args.logs or tempfile.mkdtemp(prefix="kbroker-fault-")
    os.makedirs(root, exist_ok=True)

    def log(msg):
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    net = netns.Net(3)
    # Ctrl-C or a kill of the driver must still take the namespaces and brokers down.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: (_ for _ in ()).throw(KeyboardInterrupt()))
    rows, failed = [], []
    try:
        try:
            net.create()
        except RuntimeError as e:
            print(f"fault suite skipped: cannot create network namespaces here: {e}", file=sys.stderr)
            return SKIP
        if "netem" in names and not net.netem_ok():
            log("netem: this kernel has no netem qdisc; that nemesis is skipped")
            names = [n for n in names if n != "netem"]
        log(f"seed {seed}; nemeses {' '.join(names)}; hold {hold} s; subnet 10.77.{net.subnet}.0/24; logs {root}")
        for name in names:
            run_dir = os.path.join(root, name)
            # Each nemesis draws from its own generator, so --seed S --nemesis X replays X alone.
            counts, lines = one(name, net, binary, run_dir, random.Random(f"{seed}-{name}"), hold, log)
            verdict = "ok" if not lines else "FAIL"
            rows.append({"nemesis": name, **counts, "verdict": verdict})
            if lines:
                failed.append(name)
                log(f"  {name}: VIOLATION (seed {seed}); logs kept in {run_dir}")
                for line in lines:
                    print("    " + line.replace("\n", "\n    "), flush=True)
            elif not args.keep:
                shutil.rmtree(run_dir, ignore_errors=True)
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        net.heal()
        net.destroy()
        print(table(rows), flush=True)
    if failed:
        print(f"fault suite: violations under {', '.join(failed)}; replay with --seed {seed} "
              f"{' '.join('--nemesis ' + n for n in failed)}; logs in {root}", flush=True)
        return 1
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
