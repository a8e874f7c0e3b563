"""The fault suite's network: one namespace per broker, each joined by a veth pair to a bridge in
the root namespace, where the clients run.

    net = Net(3).create()        # namespaces kf<id>n1..3, addresses 10.77.X.1..3, clients at .254
    net.cut(1, 2)                # no traffic between brokers 1 and 2, either way
    net.cut_clients(3)           # broker 3 no longer reaches (or answers) the clients
    net.heal()                   # every cut undone
    net.destroy()                # namespaces, links and the bridge removed (idempotent)

A cut is a blackhole route inside a namespace: packets towards the peer are dropped silently
(as a failed switch would), so TCP sees timeouts rather than refusals. Routes are set on both
sides, so neither end can reach the other. The kernel here has no netem qdisc (`tc` answers
"qdisc kind is unknown"), so delay and loss are only offered when the kernel has it; netem_ok()
says whether it does.

Names carry a per-run id, so two runs on one machine never collide; the subnet is a random
10.77.X.0/24 that no interface or route of this machine uses yet. Each run notes its id and pid
in /run/kbroker-fault/; a later run removes what a run killed outright (SIGKILL leaves no
chance to clean up) left behind, once that run's pid is gone."""
import os
import random
import secrets
import subprocess

STATE_DIR = "/run/kbroker-fault"


def sh(*args, check=True):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stdout.strip()}")
    return r


def free_subnet():
    used = sh("ip", "-4", "-o", "addr", "show").stdout + sh("ip", "-4", "route", "show").stdout
    free = [x for x in range(1, 251) if f"10.77.{x}." not in used]
    if free:
        return random.SystemRandom().choice(free)
    raise RuntimeError("no free 10.77.X.0/24 subnet on this machine")


class Net:
    def __init__(self, n):
        self.n = n
        self.id = secrets.token_hex(2)
        self.subnet = None
        self.bridge = f"kf{self.id}b"
        self.cuts = set()  # (ns node, destination address) blackholes in place
        self.created = []  # ("ns", name) / ("link", name), undone in reverse order

    def ns(self, node):
        return f"kf{self.id}n{node}"

    def addr(self, node):
        return f"10.77.{self.subnet}.{node}"

    @property
    def client_addr(self):
        return f"10.77.{self.subnet}.254"

    def exec_prefix(self, node):
        return ["ip", "netns", "exec", self.ns(node)]

    def create(self):
        sweep_stale()
        os.makedirs(STATE_DIR, exist_ok=True)
        with open(os.path.join(STATE_DIR, self.id), "w") as f:
            f.write(str(os.getpid()))
        self.subnet = free_subnet()
        try:
            sh("ip", "link", "add", self.bridge, "type", "bridge")
            self.created.append(("link", self.bridge))
            sh("ip", "addr", "add", f"{self.client_addr}/24", "dev", self.bridge)
            sh("ip", "link", "set", self.bridge, "up")
            for node in range(1, self.n + 1):
                ns, outer, inner = self.ns(node), f"kf{self.id}v{node}", f"kf{self.id}p{node}"
                sh("ip", "netns", "add", ns)
                self.created.append(("ns", ns))
                sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
                self.created.append(("link", outer))
                sh("ip", "link", "set", inner, "netns", ns)
                sh("ip", "link", "set", outer, "master", self.bridge, "up")
                sh(*self.exec_prefix(node), "ip", "link", "set", "lo", "up")
                sh(*self.exec_prefix(node), "ip", "addr", "add", f"{self.addr(node)}/24", "dev", inner)
                sh(*self.exec_prefix(node), "ip", "link", "set", inner, "up")
        except Exception:
            self.destroy()
            raise
        return self

    def destroy(self):
        while self.created:
            kind, name = self.created.pop()
            if kind == "ns":
                sh("ip", "netns", "del", name, check=False)
            else:
                sh("ip", "link", "del", name, check=False)
        try:
            os.unlink(os.path.join(STATE_DIR, self.id))
        except OSError:
            pass

    def _blackhole(self, node, address):
        if (node, address) not in self.cuts:
            sh(*self.exec_prefix(node), "ip", "route", "add", "blackhole", f"{address}/32")
            self.cuts.add((node, address))

    def cut(self, a, b):
        self._blackhole(a, self.addr(b))
        self._blackhole(b, self.addr(a))

    def cut_clients(self, node):
        # The root namespace keeps its route: the broker's replies are what is dropped, so a
        # connection from a client neither opens nor gets an answer.
        self._blackhole(node, self.client_addr)

    def heal(self):
        for node, address in sorted(self.cuts):
            sh(*self.exec_prefix(node), "ip", "route", "del", "blackhole", f"{address}/32", check=False)
        self.cuts.clear()

    def netem_ok(self):
        r = sh(*self.exec_prefix(1), "tc", "qdisc", "add", "dev", f"kf{self.id}p1", "root", "netem",
               "delay", "1ms", check=False)
        if r.returncode == 0:
            sh(*self.exec_prefix(1), "tc", "qdisc", "del", "dev", f"kf{self.id}p1", "root", check=False)
        return r.returncode == 0

    def netem(self, node, spec):
        sh(*self.exec_prefix(node), "tc", "qdisc", "replace", "dev", f"kf{self.id}p{node}", "root", "netem", *spec)

    def netem_clear(self, node):
        sh(*self.exec_prefix(node), "tc", "qdisc", "del", "dev", f"kf{self.id}p{node}", "root", check=False)


def sweep_stale():
    """Namespaces and links of runs whose driver died without cleaning up."""
    try:
        ids = os.listdir(STATE_DIR)
    except OSError:
        return
    namespaces = sh("ip", "netns", "list", check=False).stdout.split()
    links = [line.split(":")[1].strip().split("@")[0]
             for line in sh("ip", "-o", "link", "show", check=False).stdout.splitlines()]
    for run_id in ids:
        path = os.path.join(STATE_DIR, run_id)
        try:
            with open(path) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            continue  # that run is still going
        except (OSError, ValueError):
            pass
        for ns in namespaces:
            if ns.startswith(f"kf{run_id}n"):
                # Its brokers outlive the driver (a session of their own): they go first.
                for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                    try:
                        os.kill(int(pid), 9)
                    except (OSError, ValueError):
                        pass
                sh("ip", "netns", "del", ns, check=False)
        for link in links:
            if link.startswith(f"kf{run_id}"):
                sh("ip", "link", "del", link, check=False)
        os.unlink(path)


def is_root():
    return os.geteuid() == 0
