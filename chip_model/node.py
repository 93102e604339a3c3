"""The node as data: sockets of one chip joined by a peer-to-peer network, loaded from TOML.

The paper's results all run on a node (8 sockets) or a rack (16), so tensor-parallel compilation,
collectives and Composition-of-Experts serving read the node's figures from here, never from
constants of their own. The paper publishes no inter-socket bandwidth or latency: node files mark
those figures `assumption` with their reasoning, as chip specs do.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from chip_model.spec import ChipSpec, ChipSpecError, LaunchSpec, load_chip, read_spec_toml, spec_path

NODE_DIR = Path(__file__).parent / "nodes"
TOPOLOGIES = ("ring", "switch")
"""`ring`: each socket links to its two neighbours; `switch`: every socket has its links into one
non-blocking switch, so any pair talks at link bandwidth."""


class NodeSpecError(ChipSpecError):
    """A node spec that is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class PeerNetwork:
    topology: str
    link_bytes_per_second: float  # one direction of one socket's link
    links_per_socket: int
    latency_seconds: float  # from a send's first byte leaving to its arrival at the peer

    @property
    def socket_bytes_per_second(self) -> float:
        return self.link_bytes_per_second * self.links_per_socket


@dataclass(frozen=True)
class HostLaunch:
    """How the host launches a kernel (software launch) on a program's sockets.

    The chip spec's `launch.software_launch_cycles` is a host launch on one socket. On a node the
    host sends each kernel's Argument Load and Kernel Execute to every socket of the program and
    waits for all of them to finish before the next kernel; the completion wait overlaps across
    sockets (they finish together), the issue does not when one host thread issues them in turn.
    Hardware (AGCU-orchestrated) launch is per socket and does not go through the host."""

    issue_seconds_per_socket: float  # the host's time to issue one kernel's commands to one socket
    serial_issue: bool  # one host thread issues to the sockets one after another

    def software_launch_cycles(self, chip: ChipSpec, sockets: int) -> int:
        """A host launch of one kernel on `sockets` sockets: the chip's one-socket launch, plus
        the other sockets' issue when the host issues serially."""
        extra = (sockets - 1) * self.issue_seconds_per_socket if self.serial_issue else 0.0
        return one_socket_launch_cycles(chip.launch) + round(extra * chip.clock_hz)


@dataclass(frozen=True)
class DeviceLaunch:
    """How the sockets' AGCUs launch a kernel (hardware launch) on a program's sockets
    (`[device_launch]`).

    The chip spec's `launch.hardware_launch_cycles` is one socket's AGCUs launching its next
    kernel. A kernel of a tensor-parallel program runs on every socket and its collectives stream
    between them, so a socket may start kernel k+1 only when every socket is done with kernel k:
    a peer stream of k+1 must not reach a socket whose AGCUs still run k's. With
    `barrier_per_kernel` every hardware-launched kernel call on P > 1 sockets first waits for a
    barrier over the peer network (`barrier_seconds`): kernel looping's "synchronization
    penalties at layer boundaries" (Koeplinger et al., arXiv 2410.23668, abstract), which grow
    with the sockets. Iterations of one looped kernel pay none (the loop is one call whose layers
    pipeline: the same paper), so `functional_sim.layer_loop` gaps its iterations by the chip's
    own launch. A software launch needs no barrier of its own: the host already waits for every
    socket to finish (`HostLaunch`)."""

    barrier_per_kernel: bool

    def barrier_seconds(self, network: PeerNetwork, sockets: int) -> float:
        """A barrier of `sockets` sockets on `network`: every socket's done flag reaches every
        other. Over a switch one step (each socket sends its flag to its peers at once, the
        `direct` collective); on a ring the flags travel sockets - 1 hops (a ring all-gather, or
        recursive doubling, whose step k goes 2^k hops). Latency only: a flag's bytes take under a
        cycle at link rate."""
        if not self.barrier_per_kernel or sockets <= 1:
            return 0.0
        hops = 1 if network.topology == "switch" else sockets - 1
        return hops * network.latency_seconds

    def hardware_launch_cycles(self, chip: ChipSpec, network: PeerNetwork, sockets: int) -> int:
        """A hardware launch of one kernel on `sockets` sockets: the chip's one-socket launch,
        after the barrier."""
        return one_socket_hardware_launch_cycles(chip.launch) + round(self.barrier_seconds(network, sockets)
                                                                      * chip.clock_hz)


@dataclass(frozen=True)
class HostLaunchSpec(LaunchSpec):
    """A chip's launch figures as a node program sees them: `software_launch_cycles` is the node
    host's launch of one kernel on the program's `sockets` sockets of `node`
    (`HostLaunch.software_launch_cycles`), `hardware_launch_cycles` the AGCUs' launch of one
    kernel call there (`DeviceLaunch.hardware_launch_cycles`); `chip_software_launch_cycles` and
    `chip_hardware_launch_cycles` keep the chip's own one-socket figures, so resolving the launch
    again (for this or another program) never adds the other sockets' issue or the barrier twice."""

    chip_software_launch_cycles: int = 0
    node: str = ""
    sockets: int = 1
    chip_hardware_launch_cycles: int = 0


def one_socket_launch_cycles(launch: LaunchSpec) -> int:
    """The chip's software launch on one socket, whatever node launch `launch` was resolved for."""
    return launch.chip_software_launch_cycles if isinstance(launch, HostLaunchSpec) else launch.software_launch_cycles


def one_socket_hardware_launch_cycles(launch: LaunchSpec) -> int:
    """The chip's hardware launch on one socket (no barrier), whatever node launch `launch` was
    resolved for: what a looped kernel pays between its iterations."""
    return launch.chip_hardware_launch_cycles if isinstance(launch, HostLaunchSpec) else launch.hardware_launch_cycles


def node_launch_spec(chip: ChipSpec, node: NodeSpec | None, sockets: int = 1) -> ChipSpec:
    """`chip` with the launches a program on `sockets` sockets of `node` pays: the node host's
    software launch (`HostLaunch`) and the AGCUs' hardware launch with its barrier
    (`DeviceLaunch`); with no node, the chip's own one-socket launches. Idempotent, and a spec
    resolved for one node program resolves correctly for another (its one-socket figures are kept)."""
    launch = chip.launch
    one, one_hw = one_socket_launch_cycles(launch), one_socket_hardware_launch_cycles(launch)
    base = LaunchSpec(launch.program_load_cycles, one, one_hw, launch.config_slots)
    if node is None:
        return chip if launch == base else replace(chip, launch=base)
    plain = replace(chip, launch=base)
    cycles = node.host_launch.software_launch_cycles(plain, sockets)
    hardware = node.device_launch.hardware_launch_cycles(plain, node.network, sockets)
    resolved = HostLaunchSpec(base.program_load_cycles, cycles, hardware, base.config_slots,
                              chip_software_launch_cycles=one, node=node.name, sockets=sockets,
                              chip_hardware_launch_cycles=one_hw)
    return chip if launch == resolved else replace(chip, launch=resolved)


@dataclass(frozen=True)
class HostToken:
    """What the host does for every generated token of a decode step program (optional table
    `[host_token]`): it reads the token id back from the socket that holds it, writes it into every
    socket's input of the next step and launches that step (one host launch on the program's
    sockets, `HostLaunch`), one after another: the next step cannot start before its token is known.
    A decode loop kept on the device (the token fed back by the AGCUs) would pay none of it."""

    readback_seconds: float  # the host reads the token id (a few bytes) from one socket's HBM
    feed_seconds_per_socket: float  # the host writes it into one socket's input of the next step
    launches_step: bool  # the host launches every step itself (a host launch on all the program's sockets)

    def cycles(self, chip: ChipSpec, sockets: int, launch: "HostLaunch") -> dict[str, int]:
        """The host's cycles per token on `sockets` sockets, by part (they add up)."""
        return {"readback": round(self.readback_seconds * chip.clock_hz),
                "feed": round(sockets * self.feed_seconds_per_socket * chip.clock_hz),
                "launch": launch.software_launch_cycles(chip, sockets) if self.launches_step else 0}


@dataclass(frozen=True)
class NodeSpec:
    name: str
    description: str
    chip: ChipSpec
    sockets: int
    network: PeerNetwork
    ddr_to_hbm_bytes_per_second: float  # aggregate over the node (paper: over 1 TB/s)
    host_launch: HostLaunch
    device_launch: DeviceLaunch
    source: str = field(default="", compare=False)
    host_token: HostToken | None = None  # the host's work per generated token ([host_token]); None: not modelled

    def capacity_bytes(self, tier: str) -> int:
        """A tier's capacity summed over the node's sockets."""
        return self.sockets * self.chip.tier(tier).capacity_bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "chip": self.chip.name,
            "sockets": self.sockets,
            "network": vars(self.network) | {"socket_bytes_per_second": self.network.socket_bytes_per_second},
            "ddr_to_hbm_bytes_per_second": self.ddr_to_hbm_bytes_per_second,
            "host_launch": vars(self.host_launch)
            | {"software_launch_cycles": self.host_launch.software_launch_cycles(self.chip, self.sockets)},
            "device_launch": vars(self.device_launch)
            | {"barrier_seconds": self.device_launch.barrier_seconds(self.network, self.sockets),
               "hardware_launch_cycles": self.device_launch.hardware_launch_cycles(self.chip, self.network,
                                                                                  self.sockets)},
            "host_token": None if self.host_token is None else vars(self.host_token)
            | {"cycles": self.host_token.cycles(self.chip, self.sockets, self.host_launch)},
            "totals": {t: self.capacity_bytes(t) for t in ("sram", "hbm", "ddr")}
            | {"peak_flops": self.sockets * self.chip.peak_flops},
        }


def available_nodes() -> list[str]:
    return sorted(p.stem for p in NODE_DIR.glob("*.toml"))


def is_node(name: str) -> bool:
    """Whether `name` names a bundled node or a node file (a TOML with `sockets`)."""
    if (NODE_DIR / f"{name}.toml").exists():
        return True
    path = Path(name)
    if path.suffix == ".toml" and path.exists():
        try:
            return "sockets" in tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError):
            return False
    return False


@cache
def load_node(name: str) -> NodeSpec:
    """Load a bundled node by name (`sn40l-node8`, `sn40l-rack16`, `small-node8`) or a file by path."""
    return load_node_file(spec_path(name, NODE_DIR, "node", NodeSpecError))


def load_node_file(path: Path) -> NodeSpec:
    return _build(read_spec_toml(path, "node", NodeSpecError), str(path))


def _number(table: dict[str, Any], key: str, where: str, kind: type = float) -> Any:
    if key not in table:
        raise NodeSpecError(f"{where}: missing figure {key!r}")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise NodeSpecError(f"{where}: {key} must be a {'whole ' if kind is int else ''}number, got {value!r}")
    if value <= 0:
        raise NodeSpecError(f"{where}: {key} must be positive, got {value}")
    return kind(value)


def _build(raw: dict[str, Any], source: str) -> NodeSpec:
    known = {"name", "description", "chip", "sockets", "ddr_to_hbm_bytes_per_second", "network", "host_launch",
             "device_launch", "host_token"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise NodeSpecError(f"{source}: unknown field(s) {', '.join(unknown)}")
    if not isinstance(raw.get("chip"), str):
        raise NodeSpecError(f"{source}: missing figure 'chip' (a chip spec name or .toml path)")
    chip_ref = raw["chip"]
    if chip_ref.endswith(".toml") and not Path(chip_ref).is_absolute():
        chip_ref = str(Path(source).parent / chip_ref)
    chip = load_chip(chip_ref)
    net = raw.get("network")
    if not isinstance(net, dict):
        raise NodeSpecError(f"{source}: missing table [network]")
    net_unknown = sorted(set(net) - {"topology", "link_bytes_per_second", "links_per_socket", "latency_seconds"})
    if net_unknown:
        raise NodeSpecError(f"{source}: [network] has unknown field(s) {', '.join(net_unknown)}")
    topology = net.get("topology")
    if topology not in TOPOLOGIES:
        raise NodeSpecError(f"{source}: unknown network topology {topology!r}: choose one of {', '.join(TOPOLOGIES)}")
    network = PeerNetwork(
        topology=topology,
        link_bytes_per_second=_number(net, "link_bytes_per_second", f"{source} [network]"),
        links_per_socket=_number(net, "links_per_socket", f"{source} [network]", int),
        latency_seconds=_number(net, "latency_seconds", f"{source} [network]"),
    )
    return NodeSpec(
        name=raw.get("name", Path(source).stem),
        host_launch=_host_launch(raw, source),
        device_launch=_device_launch(raw, source),
        host_token=_host_token(raw, source),
        description=raw.get("description", ""),
        chip=chip,
        sockets=_number(raw, "sockets", source, int),
        network=network,
        ddr_to_hbm_bytes_per_second=_number(raw, "ddr_to_hbm_bytes_per_second", source),
        source=source,
    )


def _host_token(raw: dict[str, Any], source: str) -> HostToken | None:
    host = raw.get("host_token")
    if host is None:
        return None
    where = f"{source} [host_token]"
    if not isinstance(host, dict):
        raise NodeSpecError(f"{where}: must be a table (readback_seconds, feed_seconds_per_socket, launches_step)")
    unknown = sorted(set(host) - {"readback_seconds", "feed_seconds_per_socket", "launches_step"})
    if unknown:
        raise NodeSpecError(f"{where} has unknown field(s) {', '.join(unknown)}")
    if not isinstance(host.get("launches_step"), bool):
        if "launches_step" not in host:
            raise NodeSpecError(f"{where}: missing figure 'launches_step'")
        raise NodeSpecError(f"{where}: launches_step must be true or false, got {host['launches_step']!r}")
    return HostToken(readback_seconds=_number(host, "readback_seconds", where),
                     feed_seconds_per_socket=_number(host, "feed_seconds_per_socket", where),
                     launches_step=host["launches_step"])


def _host_launch(raw: dict[str, Any], source: str) -> HostLaunch:
    host = raw.get("host_launch")
    if not isinstance(host, dict):
        raise NodeSpecError(f"{source}: missing table [host_launch] (issue_seconds_per_socket, serial_issue): "
                            "how the host launches a kernel on the node's sockets")
    unknown = sorted(set(host) - {"issue_seconds_per_socket", "serial_issue"})
    if unknown:
        raise NodeSpecError(f"{source}: [host_launch] has unknown field(s) {', '.join(unknown)}")
    if not isinstance(host.get("serial_issue"), bool):
        if "serial_issue" not in host:
            raise NodeSpecError(f"{source} [host_launch]: missing figure 'serial_issue'")
        raise NodeSpecError(f"{source} [host_launch]: serial_issue must be true or false, got {host['serial_issue']!r}")
    return HostLaunch(issue_seconds_per_socket=_number(host, "issue_seconds_per_socket", f"{source} [host_launch]"),
                      serial_issue=host["serial_issue"])


def _device_launch(raw: dict[str, Any], source: str) -> DeviceLaunch:
    device = raw.get("device_launch")
    if "device_launch" in raw and not isinstance(device, dict):
        raise NodeSpecError(f"{source}: [device_launch] must be a table (barrier_per_kernel = true or false), "
                            f"got {device!r}")
    if not isinstance(device, dict):
        raise NodeSpecError(f"{source}: missing table [device_launch] (barrier_per_kernel): whether a hardware-launched "
                            "kernel on several sockets waits for a barrier over the peer network")
    unknown = sorted(set(device) - {"barrier_per_kernel"})
    if unknown:
        raise NodeSpecError(f"{source}: [device_launch] has unknown field(s) {', '.join(unknown)}")
    if not isinstance(device.get("barrier_per_kernel"), bool):
        if "barrier_per_kernel" not in device:
            raise NodeSpecError(f"{source} [device_launch]: missing figure 'barrier_per_kernel'")
        raise NodeSpecError(f"{source} [device_launch]: barrier_per_kernel must be true or false, "
                            f"got {device['barrier_per_kernel']!r}")
    return DeviceLaunch(barrier_per_kernel=device["barrier_per_kernel"])
