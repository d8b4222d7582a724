public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Debian's `nats-server` run on loopback ports with JetStream: one node or a cluster of
/// several, each with its own store directory. For tests, benchmarks and the harness; a
/// county runs its NATS servers under its own service manager.
public final class LocalNATSCluster {
    public struct Node {
        public let name: String
        public let clientPort: Int
        public let clusterPort: Int
        public let directory: String
        public var process: Process?
        public var address: NATSServerAddress { NATSServerAddress(host: "127.0.0.1", port: clientPort) }
    }

    /// Debian installs it in /usr/sbin.
    public static let executable = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/nats-server"
    /// Touched by the test or benchmark that owns the cluster, one task at a time.
    public private(set) var nodes: [Node]
    let extraConfiguration: String

    /// Writes each node's configuration; `start()` runs them. `extra` is appended to every
    /// node's configuration (authorization, TLS).
    public init(in directory: String, nodes count: Int, extra: String = "") throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw NATSError(.invalidArgument, "\(Self.executable) is missing: apt-get install nats-server (tools/install-deps --test does)")
        }
        let ports = try Self.freePorts(count * 2)
        nodes = (0..<count).map { index in
            Node(name: "n\(index + 1)", clientPort: ports[index * 2], clusterPort: ports[index * 2 + 1], directory: "\(directory)/nats-n\(index + 1)")
        }
        extraConfiguration = extra
        for node in nodes {
            try FileManager.default.createDirectory(atPath: node.directory, withIntermediateDirectories: true)
            try configuration(for: node).write(toFile: "\(node.directory)/nats.conf", atomically: true, encoding: .utf8)
        }
    }

    public var addresses: [NATSServerAddress] { nodes.map(\.address) }

    func configuration(for node: Node) -> String {
        var text = """
        server_name: \(node.name)
        listen: 127.0.0.1:\(node.clientPort)
        jetstream { store_dir: "\(node.directory)/store" }

        """
        if nodes.count > 1 {
            let routes = nodes.filter { $0.name != node.name }.map { "nats-route://127.0.0.1:\($0.clusterPort)" }
            text += """
            cluster {
              name: xunfang-test
              listen: 127.0.0.1:\(node.clusterPort)
              routes: [\(routes.joined(separator: ", "))]
            }

            """
        }
        return text + extraConfiguration
    }

    public func start() throws {
        for index in nodes.indices where nodes[index].process == nil { try start(node: index) }
    }

    public func start(node index: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["-c", "\(nodes[index].directory)/nats.conf"]
        _ = FileManager.default.createFile(atPath: "\(nodes[index].directory)/nats.log", contents: nil)
        let log = FileHandle(forWritingAtPath: "\(nodes[index].directory)/nats.log")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        nodes[index].process = process
    }

    /// kill -9, as a crash would.
    public func kill(node index: Int) {
        guard let process = nodes[index].process else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        nodes[index].process = nil
    }

    public func stop() {
        for node in nodes {
            guard let process = node.process, process.isRunning else { continue }
            process.terminate()
            process.waitUntilExit()
        }
        for index in nodes.indices { nodes[index].process = nil }
    }

    deinit { stop() }

    /// Ports the kernel hands out for port 0, closed again for the servers to take.
    static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        return try (0..<count).map { _ in
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
            }
            guard descriptor >= 0, bound else { throw NATSError(.invalidArgument, "no free loopback port") }
            sockets.append(descriptor)
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }
}
