"""Nemeses: each picks its victims in the running cluster (with the run's random generator, so a
seed replays the same choices), does its damage, and returns what it did and how to undo it.

Roles are read from the cluster when the nemesis starts: the leader is the leader of partition 0
of the workload's topic, the follower another replica of it that is not the active controller
when there is one, the controller the quorum leader that Metadata names."""
import os
import time


class Fault:
    def __init__(self, what, heal):
        self.what, self.heal = what, heal


def roles(c, topic, rng):
    leader, replicas, _ = c.partitions(topic)[0]
    controller = c.controller()
    followers = [r for r in replicas if r != leader]
    quiet = [r for r in followers if r != controller]
    follower = rng.choice(quiet or followers)
    return {"leader": leader, "follower": follower, "controller": controller}


def _restart(node):
    def heal():
        node.start()
    return heal


def kill(role):
    def run(c, net, topic, rng):
        victim = c.nodes[roles(c, topic, rng)[role]]
        victim.kill9()
        return Fault(f"kill -9 broker {victim.id} ({role})", _restart(victim))
    return run


def pause(role):
    def run(c, net, topic, rng):
        victim = c.nodes[roles(c, topic, rng)[role]]
        victim.pause()
        return Fault(f"SIGSTOP broker {victim.id} ({role})", victim.resume)
    return run


def isolate(role):
    """The victim cut from the other brokers and from the clients."""
    def run(c, net, topic, rng):
        victim = roles(c, topic, rng)[role]
        for other in c.ids:
            if other != victim:
                net.cut(victim, other)
        net.cut_clients(victim)
        return Fault(f"broker {victim} ({role}) isolated from brokers and clients", net.heal)
    return run


def split(clients_with_victim):
    """One broker cut from the other two; the clients reach only the victim (minority side) or
    only the other two (majority side)."""
    def run(c, net, topic, rng):
        victim = rng.choice(c.ids)
        others = [o for o in c.ids if o != victim]
        for other in others:
            net.cut(victim, other)
        for n in (others if clients_with_victim else [victim]):
            net.cut_clients(n)
        side = "minority" if clients_with_victim else "majority"
        return Fault(f"broker {victim} cut from the others; clients on the {side} side", net.heal)
    return run


def bridge(c, net, topic, rng):
    """A-C cut, B still talks to both (Jepsen's bridge): a non-transitive network."""
    a, b, cc = rng.sample(c.ids, 3)
    net.cut(a, cc)
    return Fault(f"brokers {a} and {cc} cut from each other, {b} reaches both", net.heal)


def rolling_restart(c, net, topic, rng):
    """Each broker in turn: SIGTERM, start, wait until it is back in every ISR. Done by the time
    it returns, so the heal has nothing left to do."""
    order = rng.sample(c.ids, len(c.ids))
    for n in order:
        c.nodes[n].stop()
        time.sleep(1)
        c.nodes[n].start()
        c.wait_healthy(topic, 3, 90)
    return Fault(f"rolling restart in order {order}", lambda: None)


def disk_full(c, net, topic, rng):
    """The leader's data dir (a small tmpfs, see Cluster.start) filled to the last byte; the heal
    frees it and restarts the broker, as Kafka needs for an offline log dir. (kbroker marks the
    dir online again by itself once a write succeeds, but the controller keeps that broker's
    replicas out of the ISRs until it restarts: a liveness gap, noted in tests/fault/README.md.)"""
    node = c.nodes[roles(c, topic, rng)["leader"]]
    filler = os.path.join(node.data, "fault-filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass

    def heal():
        os.unlink(filler)
        node.stop()
        node.start()
    return Fault(f"broker {node.id} (leader): data dir full", heal)


def netem(c, net, topic, rng):
    victim = rng.choice(c.ids)
    net.netem(victim, ["delay", "100ms", "50ms", "loss", "20%"])
    return Fault(f"broker {victim}: netem delay 100±50 ms, loss 20%", lambda: net.netem_clear(victim))


NEMESES = {
    "kill-leader": kill("leader"),
    "kill-follower": kill("follower"),
    "kill-controller": kill("controller"),
    "pause-leader": pause("leader"),
    "pause-follower": pause("follower"),
    "pause-controller": pause("controller"),
    "isolate-controller": isolate("controller"),
    "isolate-leader": isolate("leader"),
    "partition-minority": split(clients_with_victim=True),
    "partition-majority": split(clients_with_victim=False),
    "partition-bridge": bridge,
    "rolling-restart": rolling_restart,
    "disk-full": disk_full,
    "netem": netem,
}

# The CI profile: one crash, one stall, one partition; each on its own fresh cluster.
SHORT = ["kill-leader", "pause-controller", "isolate-leader"]
