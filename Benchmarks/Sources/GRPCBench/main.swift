import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// Payload bytes in and out, unchanged: the same work our Echo does.
struct RawBytes: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
    func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> [UInt8] { bytes.withUnsafeBytes { Array($0) } }
}

let echo = MethodDescriptor(fullyQualifiedService: "xunfang.bench.v1.Bench", method: "Echo")

struct EchoService: RegistrableRPCService {
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(forMethod: echo, deserializer: RawBytes(), serializer: RawBytes()) { request, _ in
            var message: [UInt8] = []
            for try await part in request.messages { message = part }
            let reply = message
            return StreamingServerResponse(single: ServerResponse(message: reply))
        }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func main() async throws {
    let calls = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 20_000
    let payload = [UInt8](repeating: 0x5A, count: 128)
    let server = GRPCServer(
        transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
        services: [EchoService()])
    try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.serve() }
        guard let address = try await server.listeningAddress?.ipv4 else { fatalError("server did not bind") }
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: address.host, port: address.port), transportSecurity: .plaintext)
        ) { client in
            @Sendable func call() async throws {
                _ = try await client.unary(request: ClientRequest(message: payload), descriptor: echo, serializer: RawBytes(),
                                           deserializer: RawBytes(), options: .defaults) { try $0.message }
            }
            for _ in 0..<1_000 { try await call() }
            var latencies: [Double] = []
            let start = ContinuousClock.now
            for _ in 0..<calls {
                let t = ContinuousClock.now
                try await call()
                latencies.append(seconds(ContinuousClock.now - t) * 1e6)
            }
            let sequential = Double(calls) / seconds(ContinuousClock.now - start)
            latencies.sort()
            let parallelStart = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for _ in 0..<16 { tasks.addTask { for _ in 0..<(calls / 16) { try await call() } } }
                try await tasks.waitForAll()
            }
            let parallel = Double(calls / 16 * 16) / seconds(ContinuousClock.now - parallelStart)
            print(String(format: #"{"bench":"grpc-swift-2","results":{"rpc.sequential.p50 [µs]":%.1f,"rpc.sequential.p99 [µs]":%.1f,"rpc.sequential [calls/s]":%.1f,"rpc.16-in-flight [calls/s]":%.1f}}"#,
                         latencies[latencies.count / 2], latencies[latencies.count * 99 / 100], sequential, parallel))
        }
        server.beginGracefulShutdown()
    }
}

try await main()
