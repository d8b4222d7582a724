// A small NATS-protocol client (https://docs.nats.io/reference/reference-protocols/nats-protocol)
// over blocking sockets, to measure nats-server with the same payloads as `xunfang bench bus`.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Used from one thread at a time (its reader thread, or the benchmark loop).
final class NatsConnection: @unchecked Sendable {
    let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    private var start = 0, end = 0

    init(port: UInt16) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        precondition(connected == 0, "cannot connect to nats-server on port \(port)")
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = readLine()  // INFO
        send(Array(#"CONNECT {"verbose":false,"pedantic":false,"echo":false}"#.utf8) + [13, 10])
        flushRoundTrip()
    }

    func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                precondition(n > 0, "write failed")
                offset += n
            }
        }
    }

    /// PING and wait for PONG: everything sent before is processed by the server.
    func flushRoundTrip() {
        send(Array("PING\r\n".utf8))
        while true {
            let line = readLine()
            if line.starts(with: Array("PONG".utf8)) { return }
        }
    }

    private func fill() {
        if start == end { start = 0; end = 0 }
        if end == buffer.count {
            buffer.replaceSubrange(0..<(end - start), with: buffer[start..<end])
            end -= start
            start = 0
        }
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + end, $0.count - end) }
        precondition(n > 0, "connection closed")
        end += n
    }

    func readLine() -> ArraySlice<UInt8> {
        while true {
            var index = start
            while index + 1 < end {
                if buffer[index] == 13 && buffer[index + 1] == 10 {
                    let line = buffer[start..<index]
                    start = index + 2
                    return line
                }
                index += 1
            }
            fill()
        }
    }

    func readBytes(_ count: Int) {
        while end - start < count + 2 { fill() }
        start += count + 2
    }

    /// Reads until the next MSG; answers PINGs. Returns the reply subject, if any.
    func nextMessage() -> [UInt8]? {
        while true {
            let line = readLine()
            if line.starts(with: Array("MSG ".utf8)) {
                let parts = line.split(separator: 32)
                let length = Int(String(decoding: parts.last!, as: UTF8.self))!
                readBytes(length)
                return parts.count == 5 ? Array(parts[3]) : nil
            }
            if line.starts(with: Array("PING".utf8)) { send(Array("PONG\r\n".utf8)) }
        }
    }
}

func pub(_ subject: String, reply: String? = nil, _ payload: [UInt8]) -> [UInt8] {
    Array("PUB \(subject)\(reply.map { " " + $0 } ?? "") \(payload.count)\r\n".utf8) + payload + [13, 10]
}

func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

let port = UInt16(CommandLine.arguments.dropFirst().first ?? "4222")!
let messages = Int(CommandLine.arguments.dropFirst(2).first ?? "") ?? 200_000
let calls = 20_000
let payload = [UInt8](repeating: 0x5A, count: 128)

func pubSub(subscribers: Int) -> Double {
    let subs = (0..<subscribers).map { _ in NatsConnection(port: port) }
    for sub in subs {
        sub.send(Array("SUB bench.pubsub 1\r\n".utf8))
        sub.flushRoundTrip()
    }
    let publisher = NatsConnection(port: port)
    let start = ContinuousClock.now
    let done = DispatchGroup()
    for sub in subs {
        done.enter()
        Thread {
            for _ in 0..<messages { _ = sub.nextMessage() }
            done.leave()
        }.start()
    }
    let one = pub("bench.pubsub", payload)
    var batch: [UInt8] = []
    batch.reserveCapacity(64 * 1024)
    for _ in 0..<messages {
        batch += one
        if batch.count >= 60 * 1024 {
            publisher.send(batch)
            batch.removeAll(keepingCapacity: true)
        }
    }
    publisher.send(batch)
    done.wait()
    return Double(messages * subscribers) / seconds(since: start)
}

func requestReply() -> (p50: Double, p99: Double, sequential: Double, parallel: Double) {
    let responder = NatsConnection(port: port)
    responder.send(Array("SUB bench.echo 1\r\n".utf8))
    responder.flushRoundTrip()
    Thread {
        while true {
            if let reply = responder.nextMessage() { responder.send(pub(String(decoding: reply, as: UTF8.self), payload)) }
        }
    }.start()
    let requester = NatsConnection(port: port)
    requester.send(Array("SUB _INBOX.bench.* 1\r\n".utf8))
    requester.flushRoundTrip()
    let request = pub("bench.echo", reply: "_INBOX.bench.1", payload)
    for _ in 0..<1_000 {
        requester.send(request)
        _ = requester.nextMessage()
    }
    var latencies: [Double] = []
    let start = ContinuousClock.now
    for _ in 0..<calls {
        let t = ContinuousClock.now
        requester.send(request)
        _ = requester.nextMessage()
        latencies.append(seconds(since: t) * 1e6)
    }
    let sequential = Double(calls) / seconds(since: start)
    latencies.sort()
    // 16 in flight on one connection, as a NATS client multiplexes requests.
    let parallelCalls = calls * 2
    let parallelStart = ContinuousClock.now
    requester.send(Array(repeating: request, count: 16).flatMap { $0 })
    for sent in 16..<(parallelCalls + 16) {
        _ = requester.nextMessage()
        if sent < parallelCalls { requester.send(request) }
    }
    let parallel = Double(parallelCalls) / seconds(since: parallelStart)
    return (latencies[latencies.count / 2], latencies[latencies.count * 99 / 100], sequential, parallel)
}

let rpc = requestReply()
let oneToOne = pubSub(subscribers: 1)
let oneToEight = pubSub(subscribers: 8)
print(String(format: #"{"bench":"nats-server","results":{"rpc.sequential.p50 [µs]":%.1f,"rpc.sequential.p99 [µs]":%.1f,"rpc.sequential [calls/s]":%.1f,"rpc.16-in-flight [calls/s]":%.1f,"pubsub.socket.1-1 [msg/s]":%.1f,"pubsub.socket.1-8 [deliveries/s]":%.1f}}"#,
             rpc.p50, rpc.p99, rpc.sequential, rpc.parallel, oneToOne, oneToEight))
exit(0)
