import Foundation
import Logging
import Testing
import XunfangNATS
import XunfangTestSupport

/// Against Debian's nats-server on loopback ports: the client, JetStream's de-duplication,
/// durable consumers, and a server killed -9 under the client.
@Suite("NATS client against a real nats-server", .serialized)
struct LiveServerTests {
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func cluster(nodes: Int = 1) throws -> LocalNATSCluster {
        let directory = NSTemporaryDirectory() + "xf-nats-\(UUID().uuidString.prefix(8))"
        let cluster = try LocalNATSCluster(in: directory, nodes: nodes)
        try cluster.start()
        return cluster
    }

    func connect(_ cluster: LocalNATSCluster, name: String = "test") async throws -> NATSConnection {
        var options = NATSOptions(servers: cluster.addresses, name: name)
        options.pingInterval = .milliseconds(500)
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                return try await NATSConnection.connect(options, logger: quiet)
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// A connection, and JetStream ready with the stream XUNFANG on `xunfang.>`.
    func streamReady(_ cluster: LocalNATSCluster) async throws -> (NATSConnection, JetStream) {
        let connection = try await connect(cluster)
        let jetStream = JetStream(connection)
        try await jetStream.waitUntilReady()
        try await jetStream.ensureStream(.init(name: "XUNFANG", subjects: ["xunfang.>"]))
        return (connection, jetStream)
    }

    @Test("publish, subscribe with wildcards, request and reply; no responders named")
    func publishSubscribeRequest() async throws {
        let cluster = try cluster()
        defer { cluster.stop() }
        let one = try await connect(cluster, name: "one"), two = try await connect(cluster, name: "two")
        #expect(one.serverInfo.jetStream && one.serverInfo.headers)
        let subscription = try two.subscribe("xunfang.*.incident.>")
        try await two.flush()
        var headers = NATSHeaders()
        headers.set("Xunfang-Topic", "incident.created")
        for index in 0..<3 { try one.publish("xunfang.county-\(index).incident.created", payload: Data("i\(index)".utf8), headers: headers) }
        try one.publish("xunfang.a.unit.position", payload: Data("not for us".utf8))
        var seen: [NATSMessage] = []
        for await message in subscription.messages {
            seen.append(message)
            if seen.count == 3 { break }
        }
        #expect(seen.map { String(decoding: $0.payload, as: UTF8.self) } == ["i0", "i1", "i2"])
        #expect(seen.allSatisfy { $0.headers["xunfang-topic"] == "incident.created" })

        let service = try two.subscribe("county.a.eta")
        Task {
            for await message in service.messages {
                if let reply = message.replyTo { try? two.publish(reply, payload: Data("eta \(message.payload.count)".utf8)) }
            }
        }
        try await two.flush()
        let answer = try await one.request("county.a.eta", payload: Data("12345".utf8))
        #expect(String(decoding: answer.payload, as: UTF8.self) == "eta 5")
        await #expect(throws: NATSError.self) { try await one.request("nobody.serves.this") }
        await one.close()
        await two.close()
    }

    @Test("JetStream stores a repeated Nats-Msg-Id once; a durable consumer resumes after the reader goes away")
    func deduplicationAndDurableConsumer() async throws {
        let cluster = try cluster()
        defer { cluster.stop() }
        let (connection, jetStream) = try await streamReady(cluster)
        try await jetStream.ensureStream(.init(name: "XUNFANG", subjects: ["xunfang.>"]))   // a second bridge: left as it is
        var acks: [JetStream.PublishAck] = []
        for index in 0..<10 {
            acks.append(try await jetStream.publish("xunfang.a.incident.created", payload: Data("\(index)".utf8), messageID: "a:\(index)"))
        }
        let replay = try await jetStream.publish("xunfang.a.incident.created", payload: Data("3".utf8), messageID: "a:3")
        #expect(acks.map(\.sequence) == Array(1...10) && acks.allSatisfy { !$0.duplicate })
        #expect(replay.duplicate && replay.sequence == 4, "the replay is the stored fourth message, not an eleventh")
        #expect(try await jetStream.streamState("XUNFANG").messages == 10)

        try await jetStream.ensureConsumer(stream: "XUNFANG", .init(durable: "city-import", filterSubject: "xunfang.*.incident.>"))
        let first = try await jetStream.fetch(stream: "XUNFANG", durable: "city-import", batch: 4, wait: .seconds(5))
        #expect(first.map { String(decoding: $0.payload, as: UTF8.self) } == ["0", "1", "2", "3"])
        #expect(first.compactMap(\.metadata?.streamSequence) == [1, 2, 3, 4])
        for message in first { try message.ack() }
        try await connection.flush()
        await connection.close()

        // A new reader (a restarted bridge) goes on from the fifth.
        let again = try await connect(cluster)
        let resumed = JetStream(again)
        try await resumed.ensureConsumer(stream: "XUNFANG", .init(durable: "city-import", filterSubject: "xunfang.*.incident.>"))
        let rest = try await resumed.fetch(stream: "XUNFANG", durable: "city-import", batch: 100, wait: .milliseconds(500))
        #expect(rest.map { String(decoding: $0.payload, as: UTF8.self) } == ["4", "5", "6", "7", "8", "9"])
        let empty = try await resumed.fetch(stream: "XUNFANG", durable: "city-import", batch: 10, wait: .milliseconds(200))
        #expect(empty.isEmpty, "the rest are out and not yet due again")
        await again.close()
    }

    @Test("a message not acknowledged comes again, counted as a second delivery")
    func redelivery() async throws {
        let cluster = try cluster()
        defer { cluster.stop() }
        let (connection, jetStream) = try await streamReady(cluster)
        _ = try await jetStream.publish("xunfang.a.checkpoint.seal", payload: Data("seal".utf8), messageID: "a:seal-1")
        try await jetStream.ensureConsumer(stream: "XUNFANG", .init(durable: "b-import", filterSubject: "xunfang.*.checkpoint.>", ackWait: .seconds(1)))
        let first = try await jetStream.fetch(stream: "XUNFANG", durable: "b-import", batch: 1, wait: .seconds(5))
        #expect(first.first?.metadata?.delivered == 1)
        // Not acknowledged: the server hands it out again after the one-second ack wait.
        let second = try await jetStream.fetch(stream: "XUNFANG", durable: "b-import", batch: 1, wait: .seconds(30))
        #expect(second.first?.metadata?.delivered == 2 && second.first?.headers["Nats-Msg-Id"] == "a:seal-1")
        try second.first?.ack()
        try await connection.flush()
        await connection.close()
    }

    @Test("TLS and a password: a client without them is refused, by name; with them it links and publishes")
    func tlsAndCredentials() async throws {
        let directory = NSTemporaryDirectory() + "xf-nats-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (certificate, key) = try TestCertificate.make(in: directory)
        let cluster = try LocalNATSCluster(in: directory, nodes: 1, extra: """
            tls { cert_file: "\(certificate)", key_file: "\(key)" }
            authorization { user: county-a, password: "s3cret-for-the-bridge" }
            """)
        try cluster.start()
        defer { cluster.stop() }
        let address = cluster.addresses[0]
        let secure = NATSServerAddress(host: "localhost", port: address.port, tls: true)
        var good = NATSOptions(servers: [secure], name: "bridge", user: "county-a", password: "s3cret-for-the-bridge", trustRoots: certificate)
        good.requestTimeout = .seconds(5)
        let deadline = ContinuousClock.now + .seconds(60)
        var connection: NATSConnection?
        while connection == nil && ContinuousClock.now < deadline {
            connection = try? await NATSConnection.connect(good, logger: quiet)
            if connection == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let linked = try #require(connection, "linked over TLS with the password")
        let subscription = try linked.subscribe("secure.>")
        try await linked.flush()
        try linked.publish("secure.hello", payload: Data("over tls".utf8))
        var iterator = subscription.messages.makeAsyncIterator()
        #expect(await iterator.next()?.payload == Data("over tls".utf8))
        await linked.close()

        let plain = NATSOptions(servers: [address], name: "bridge", user: "county-a", password: "s3cret-for-the-bridge")
        await #expect(throws: NATSError.self, "plain text to a TLS server") { _ = try await NATSConnection.connect(plain, logger: quiet) }
        let wrongPassword = NATSOptions(servers: [secure], name: "bridge", user: "county-a", password: "guess", trustRoots: certificate)
        do {
            _ = try await NATSConnection.connect(wrongPassword, logger: quiet)
            Issue.record("a wrong password linked")
        } catch let error as NATSError {
            #expect(error.message.lowercased().contains("authorization"), "\(error)")
        }
        let untrusted = NATSOptions(servers: [secure], name: "bridge", user: "county-a", password: "s3cret-for-the-bridge")
        await #expect(throws: (any Error).self, "a certificate no root vouches for") { _ = try await NATSConnection.connect(untrusted, logger: quiet) }
    }

    @Test("a server that takes the connection and says nothing (SIGSTOP) fails the handshake in bounded time instead of hanging")
    func frozenServer() async throws {
        let cluster = try cluster()
        defer { cluster.stop() }
        let live = try await connect(cluster)   // up and answering first
        await live.close()
        let pid = try #require(cluster.nodes[0].process?.processIdentifier)
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        let started = ContinuousClock.now
        await #expect(throws: NATSError.self) { _ = try await NATSConnection.connect(NATSOptions(servers: cluster.addresses, name: "t"), logger: quiet) }
        #expect(ContinuousClock.now - started < .seconds(60), "gave up rather than waiting forever")
    }

    @Test("the server killed -9 and restarted: the client reconnects, subscriptions hold, stored messages survive")
    func serverKilled() async throws {
        let cluster = try cluster()
        defer { cluster.stop() }
        let (connection, jetStream) = try await streamReady(cluster)
        for index in 0..<5 { _ = try await jetStream.publish("xunfang.a.incident.created", payload: Data(), messageID: "a:\(index)") }
        let subscription = try connection.subscribe("live.>")
        cluster.kill(node: 0)
        await #expect(throws: NATSError.self) { _ = try await jetStream.publish("xunfang.a.incident.created", payload: Data(), messageID: "a:lost") }
        try cluster.start(node: 0)
        let deadline = ContinuousClock.now + .seconds(60)
        while connection.reconnects == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(connection.reconnects == 1 && connection.isConnected)
        try await jetStream.waitUntilReady()
        #expect(try await jetStream.streamState("XUNFANG").messages == 5, "what JetStream acknowledged survived kill -9")
        try connection.publish("live.after", payload: Data("back".utf8))
        // Bounded: a subscription lost on the new link is a failure, not a hang.
        let subject = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                var iterator = subscription.messages.makeAsyncIterator()
                return await iterator.next()?.subject
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(30))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        #expect(subject == "live.after", "the subscription was made again on the new link")
        await connection.close()
    }
}
