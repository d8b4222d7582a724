import Foundation
import Testing
@testable import XunfangNATS

@Suite("NATS protocol, byte for byte")
struct ProtocolTests {
    func text(_ operation: ClientOperation) throws -> String {
        String(decoding: try operation.encoded(), as: UTF8.self)
    }

    @Test("PUB, HPUB, SUB and UNSUB are written as the protocol spells them")
    func clientOperations() throws {
        #expect(try text(.publish(subject: "xunfang.a.incident.created", replyTo: nil, headers: NATSHeaders(), payload: Data("hi".utf8)))
                == "PUB xunfang.a.incident.created 2\r\nhi\r\n")
        #expect(try text(.publish(subject: "s", replyTo: "_INBOX.x.1", headers: NATSHeaders(), payload: Data())) == "PUB s _INBOX.x.1 0\r\n\r\n")
        let headers = NATSHeaders([("Nats-Msg-Id", "a:1")])
        // "NATS/1.0\r\n" (10) + "Nats-Msg-Id: a:1\r\n" (18) + "\r\n" (2) = 30 header bytes.
        #expect(try text(.publish(subject: "s", replyTo: nil, headers: headers, payload: Data("xyz".utf8)))
                == "HPUB s 30 33\r\nNATS/1.0\r\nNats-Msg-Id: a:1\r\n\r\nxyz\r\n")
        #expect(try text(.subscribe(subject: "xunfang.*.incident.>", queueGroup: "q", id: 7)) == "SUB xunfang.*.incident.> q 7\r\n")
        #expect(try text(.unsubscribe(id: 7, after: nil)) == "UNSUB 7\r\n")
        let connect = try text(.connect(ConnectOptions(name: "bridge", user: "u", pass: "p")))
        #expect(connect.hasPrefix("CONNECT {") && connect.hasSuffix("}\r\n"))
        #expect(connect.contains("\"headers\":true") && connect.contains("\"user\":\"u\"") && connect.contains("\"no_responders\":true"))
    }

    @Test("bad subjects and headers are refused before they reach a server")
    func refusals() {
        for subject in ["", "a..b", "a b", "a.>.b", ".a", "a."] {
            #expect(throws: NATSError.self) { try ClientOperation.publish(subject: subject, replyTo: nil, headers: NATSHeaders(), payload: Data()).encoded() }
        }
        #expect(throws: NATSError.self) { try ClientOperation.publish(subject: "a.*", replyTo: nil, headers: NATSHeaders(), payload: Data()).encoded() }
        #expect(throws: NATSError.self) {
            try ClientOperation.publish(subject: "a", replyTo: nil, headers: NATSHeaders([("X", "line\r\nInjected: 1")]), payload: Data()).encoded()
        }
        #expect(throws: NATSError.self) { try ClientOperation.subscribe(subject: "a.>.b", queueGroup: nil, id: 1).encoded() }
    }

    @Test("server operations parse in any split, one byte at a time included")
    func parsesSplits() throws {
        let wire = "INFO {\"server_id\":\"S1\",\"max_payload\":1024,\"headers\":true,\"jetstream\":true,\"connect_urls\":[\"10.0.0.2:4222\"]}\r\n"
            + "PING\r\n+OK\r\nMSG a.b 3 2\r\nhi\r\nMSG a.c 4 _INBOX.z 0\r\n\r\n"
            + "HMSG x 5 $JS.ACK.S.C.1.2.3.4.5 30 33\r\nNATS/1.0\r\nNats-Msg-Id: a:1\r\n\r\nxyz\r\n"
            + "HMSG _INBOX.q 6 28 28\r\nNATS/1.0 404 No Messages\r\n\r\n\r\n"
            + "-ERR 'Authorization Violation'\r\nPONG\r\n"
        let bytes = Data(wire.utf8)
        for chunk in [1, 7, bytes.count] {
            var parser = ServerParser()
            var operations: [ServerOperation] = []
            var offset = 0
            while offset < bytes.count {
                parser.feed(bytes[offset..<min(offset + chunk, bytes.count)])
                offset += chunk
                while let operation = try parser.next() { operations.append(operation) }
            }
            #expect(operations.count == 9, "chunk \(chunk)")
            guard operations.count == 9 else { continue }
            if case .info(let info) = operations[0] {
                #expect(info.serverID == "S1" && info.maxPayload == 1024 && info.jetStream && info.connectURLs == ["10.0.0.2:4222"])
            } else { Issue.record("INFO first") }
            #expect(operations[1] == .ping && operations[2] == .ok && operations[8] == .pong)
            #expect(operations[3] == .message(NATSMessage(subject: "a.b", subscription: 3, payload: Data("hi".utf8))))
            #expect(operations[4] == .message(NATSMessage(subject: "a.c", subscription: 4, replyTo: "_INBOX.z")))
            #expect(operations[5] == .message(NATSMessage(subject: "x", subscription: 5, replyTo: "$JS.ACK.S.C.1.2.3.4.5",
                                                          headers: NATSHeaders([("Nats-Msg-Id", "a:1")]), payload: Data("xyz".utf8))))
            if case .message(let status) = operations[6] {
                #expect(status.headers.status == 404 && status.headers.statusDescription == "No Messages" && status.payload.isEmpty)
            } else { Issue.record("status message") }
            #expect(operations[7] == .error("Authorization Violation"))
        }
    }

    @Test("a hostile server is refused: endless control line, oversize payload, missing CRLF, unknown verb")
    func hostileServer() throws {
        var endless = ServerParser()
        endless.feed(Data(repeating: 0x41, count: ServerParser.maxControlLine + 1))
        #expect(throws: NATSError.self) { try endless.next() }

        var oversize = ServerParser(maxPayload: 100)
        oversize.feed(Data("MSG a 1 101\r\n".utf8))
        #expect(throws: NATSError.self) { try oversize.next() }

        var noCRLF = ServerParser()
        noCRLF.feed(Data("MSG a 1 2\r\nhiXX".utf8))
        #expect(throws: NATSError.self) { try noCRLF.next() }

        var unknown = ServerParser()
        unknown.feed(Data("HELLO\r\n".utf8))
        #expect(throws: NATSError.self) { try unknown.next() }

        var partial = ServerParser()
        partial.feed(Data("MSG a 1 10\r\nhalf".utf8))
        #expect(try partial.next() == nil, "waits for the rest of the payload")
    }

    @Test("subject matching follows NATS wildcards")
    func matching() {
        #expect(Subject.matches("xunfang.*.incident.>", "xunfang.a.incident.created"))
        #expect(Subject.matches("xunfang.*.incident.>", "xunfang.a.incident.x.y"))
        #expect(!Subject.matches("xunfang.*.incident.>", "xunfang.a.incident"))
        #expect(!Subject.matches("xunfang.*.incident.>", "xunfang.a.b.incident.created"))
        #expect(Subject.matches("a.b", "a.b") && !Subject.matches("a.b", "a.b.c") && !Subject.matches("a.*", "a"))
    }

    @Test("addresses: nats://, tls:// and bare host:port; anything else refused")
    func addresses() throws {
        #expect(try NATSServerAddress(parsing: "nats://127.0.0.1:4222") == NATSServerAddress(host: "127.0.0.1", port: 4222))
        #expect(try NATSServerAddress(parsing: "tls://nats.city:4443") == NATSServerAddress(host: "nats.city", port: 4443, tls: true))
        #expect(try NATSServerAddress(parsing: "localhost:1") == NATSServerAddress(host: "localhost", port: 1))
        for bad in ["", "nats://host", "host:0", "host:70000", ":4222", "http://x:1"] {
            #expect(throws: NATSError.self) { try NATSServerAddress(parsing: bad) }
        }
    }
}
