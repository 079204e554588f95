import DronewallConfig
import NftModel

/// The elements of the identity verdict maps, one list per identity kind: each of a subject's
/// identities leads to its chain. The forward chain and the DNS redirect are built from the
/// same lists, so a drone is recognised the same way by both.
struct IdentityMaps {
    var mac: [SetElement] = [], ipv4: [SetElement] = [], ipv6: [SetElement] = []
    var interface: [SetElement] = [], user: [SetElement] = []

    /// `chain`: where a subject's packets go; nil leaves the subject out.
    init(_ drones: [DronePolicy], chain: (DronePolicy) -> String?) {
        for drone in drones {
            guard let name = chain(drone) else { continue }
            let go = Value.verdict(.goto(name))
            for id in drone.identities {
                let origin = id.location
                switch id.value {
                case let .mac(m): mac.append(SetElement(key: .ether(m.bytes), data: go, origin: origin))
                case let .network(n):
                    let element = SetElement(key: .network(n), data: go, origin: origin)
                    if n.isIPv4 { ipv4.append(element) } else { ipv6.append(element) }
                case let .interface(i): interface.append(SetElement(key: .interfaceName(i), data: go, origin: origin))
                case let .uid(u): user.append(SetElement(key: .uid(u), data: go, origin: origin))
                }
            }
        }
    }
}
