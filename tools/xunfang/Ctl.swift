import ArgumentParser
import Foundation
import Logging
import SwiftProtobuf
import XunfangConfig
import XunfangPluginKit
import Synchronization
import XunfangWire

/// Every installed plugin's contract, read from the plugins themselves
/// (`xunfang-plugin-NAME --descriptors` and `--manifest`) and from descriptor-set files a
/// C plugin's author ships (`--descriptor-set`, or `*.binpb` in `<bin>/../share/xunfang/descriptors`),
/// so `ctl` encodes and decodes any plugin's messages without a list compiled in.
struct ContractCatalog {
    var codec = ContractCodec()
    /// Topic pattern to message type, from the plugins' manifests.
    var topicTypes: [(pattern: String, type: String)] = []

    static func load(_ options: CatalogOptions) throws -> ContractCatalog {
        var catalog = ContractCatalog()
        let directory = options.binDir ?? executableDirectory()
        for name in installedPlugins(in: directory) {
            if let set = try? captureData(["\(directory)/\(name)", "--descriptors"]), !set.isEmpty { try? catalog.codec.add(set) }
            if let manifest = (try? capture(["\(directory)/\(name)", "--manifest"])).flatMap({ try? JSONSerialization.jsonObject(with: Data($0.utf8)) }) as? [String: Any],
               let types = manifest["topicTypes"] as? [String: String] {
                catalog.topicTypes += types.map { ($0.key, $0.value) }.sorted { $0.0 < $1.0 }
            }
        }
        let shared = "\(directory)/../share/xunfang/descriptors"
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: shared)) ?? []).filter { $0.hasSuffix(".binpb") }.map { "\(shared)/\($0)" }
        for path in files.sorted() + options.descriptorSet {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read descriptor set \(path)") }
            do { try catalog.codec.add(data) } catch { throw ValidationError("\(path): \(error.message)") }
        }
        return catalog
    }

    func requireType(_ name: String) throws -> String {
        guard codec.knows(name) else {
            throw ValidationError("unknown message type \(name): no installed plugin's contract defines it (pass --descriptor-set FILE)")
        }
        return name
    }

    func encode(json: String, as type: String?) throws -> Data {
        guard let type else { return Data(json.utf8) }
        do {
            return try codec.encode(json: json, as: type)
        } catch {
            throw ValidationError("input is not a JSON \(type): \(error.message)")
        }
    }

    /// The payload as JSON: decoded by its type when known, else JSON, text or base64.
    func decode(_ data: Data, as type: String?, style: ContractCodec.JSONStyle = .readable) -> Any {
        if let type, let object = try? codec.decode(data, as: type, style: style) { return object }
        if let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) { return object }
        if let text = String(data: data, encoding: .utf8), !text.contains(where: { $0.isASCII && $0.asciiValue! < 32 && $0 != "\n" && $0 != "\t" }) {
            return text
        }
        return ["base64": data.base64EncodedString()]
    }

    /// The type a plugin declared for topics matching `topic`.
    func type(ofTopic topic: String) -> String? {
        topicTypes.first { (try? TopicPattern($0.pattern))?.matches(topic) == true }?.type
    }
}

struct CatalogOptions: ParsableArguments {
    @Option(help: "Directory of the plugin executables whose contracts ctl reads (default: beside xunfang).")
    var binDir: String?
    @Flag(help: "Print strict proto3 JSON (defaults left out, times as Unix-ms strings) instead of every field with China times.")
    var protoJson = false
    var style: ContractCodec.JSONStyle { protoJson ? .proto3 : .readable }
    @Option(help: "A FileDescriptorSet file (protoc --include_imports --descriptor_set_out) of a plugin's contract; repeatable.")
    var descriptorSet: [String] = []
}

/// Calls `method` and prints the answer as JSON; a refusal prints its code and message
/// and exits with the gRPC status number.
func callAndPrint(_ connection: ConnectionOptions, _ method: String, payload: Data, decode: (Data) -> Any, timeoutMs: Int = 10_000) async throws {
    do {
        printJSON(decode(try await connection.tool.callOnce(method, payload: payload, timeout: .milliseconds(timeoutMs))))
    } catch let error as BusClientError {
        printJSON(["code": error.code.name, "message": error.message])
        throw ExitCode(Int32(error.code.rawValue))
    }
}

struct ConnectionOptions: ParsableArguments {
    @Option(help: "County data directory (for the socket and the ctl credential).")
    var dataDir: String = "data"
    @Option(help: "Bus endpoint: a socket path, unix:PATH or tcp:HOST:PORT (default: <data-dir>/bus.sock).")
    var bus: String?
    @Option(help: "Client name in the county config.")
    var name: String = "ctl"
    @Option(help: "File holding the credential (default: <data-dir>/credentials/<name>).")
    var credentialFile: String?

    var tool: ToolConnection { ToolConnection(dataDirectory: dataDir, bus: bus, name: name, credentialFile: credentialFile) }

    func connect(onLost: (@Sendable (BusClientError) -> Void)? = nil) async throws -> BusClient {
        try await tool.connect(onLost: onLost)
    }
}

func printJSON(_ object: Any) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])) ?? Data()
    print(String(decoding: data, as: UTF8.self))
}

struct CtlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl", abstract: "Talk to a running bus like any client (JSON in and out).",
        subcommands: [Publish.self, Subscribe.self, Call.self, Methods.self, Stats.self, Consumers.self, ConsumerCommand.self])

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish one message; prints its receipt.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var catalogOptions: CatalogOptions
        @Argument(help: "Topic, e.g. template.note") var topic: String
        @Option(help: "Payload: JSON of --type (default: the type a plugin declares for the topic), or raw text.") var data: String = "{}"
        @Option(help: "Full protobuf name of the payload, e.g. xunfang.template.v1.Note") var type: String?
        @Flag(help: "Send --data as raw text even if a plugin declares a type for the topic.") var raw = false
        @Option(help: "Message id for de-duplication.") var messageId: String = ""

        func run() async throws {
            let catalog = try ContractCatalog.load(catalogOptions)
            let messageType = raw ? nil : try type.map(catalog.requireType) ?? catalog.type(ofTopic: topic)
            let payload = try catalog.encode(json: data, as: messageType)
            let client = try await connection.connect()
            defer { Task { await client.close() } }
            let receipt = try await client.publishConfirmed(topic, payload: payload, messageID: messageId)
            printJSON(["topic": topic, "messageId": receipt.messageID, "sequence": receipt.sequence])
            await client.close()
        }
    }

    struct Subscribe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print deliveries as JSON lines, payloads decoded by the publishing plugin's contract; exits 14 when the bus goes away.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var catalogOptions: CatalogOptions
        @Argument(help: "Topic pattern, e.g. 'incident.>'") var pattern: String
        @Option(help: "Full protobuf name to decode every payload as (default: by topic, from the plugins' manifests).") var type: String?
        @Option(help: "Stop after this many messages.") var count: Int?
        @Option(help: "Durable consumer name (acknowledges each printed delivery).") var durable: String?

        func run() async throws {
            let catalog = try ContractCatalog.load(catalogOptions)
            let forced = try type.map(catalog.requireType)
            let lost = Mutex<BusClientError?>(nil)
            let client = try await connection.connect { error in lost.withLock { $0 = error } }
            var printed = 0
            for await delivery in try await client.subscribe(pattern, durable: durable) {
                printJSON(["topic": delivery.topic, "messageId": delivery.messageID, "publisher": delivery.publisher,
                           "sequence": delivery.sequence, "attempt": delivery.attempt,
                           "payload": catalog.decode(delivery.payload, as: forced ?? catalog.type(ofTopic: delivery.topic), style: catalogOptions.style)])
                fflush(nil)
                delivery.ack()
                printed += 1
                if let count, printed >= count { break }
            }
            await client.close()
            if let error = lost.withLock({ $0 }) {
                FileHandle.standardError.write(Data("xunfang ctl subscribe: \(error.message)\n".utf8))
                throw ExitCode(Int32(error.code.rawValue))
            }
        }
    }

    struct Call: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Call a service; prints the response as JSON.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var catalogOptions: CatalogOptions
        @Argument(help: "Method path, e.g. /xunfang.template.v1.Template/Echo") var method: String
        @Option(help: "Request as JSON.") var data: String = "{}"
        @Option(help: "Deadline in milliseconds.") var timeoutMs: Int = 10_000

        func run() async throws {
            let catalog = try ContractCatalog.load(catalogOptions)
            let types = catalog.codec.methods[method]
            let payload = try catalog.encode(json: data, as: types?.input)
            try await callAndPrint(connection, method, payload: payload, decode: { catalog.decode($0, as: types?.output, style: catalogOptions.style) }, timeoutMs: timeoutMs)
        }
    }

    struct Methods: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the methods and message types of every installed plugin's contract (no bus needed).")
        @OptionGroup var catalogOptions: CatalogOptions

        func run() async throws {
            let catalog = try ContractCatalog.load(catalogOptions)
            printJSON(["methods": catalog.codec.methods.mapValues { ["request": $0.input, "response": $0.output] },
                       "topics": Dictionary(catalog.topicTypes.map { ($0.pattern, $0.type) }, uniquingKeysWith: { first, _ in first }),
                       "messages": catalog.codec.messageNames])
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the bus's counters, sessions and durable consumers.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await printBusAnswer("/xunfang.bus.v1.Bus/Stats", connection: connection)
        }
    }

    struct Consumers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the durable consumers: pattern, messages waiting, in flight, oldest unacknowledged age, bindings.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await printBusAnswer("/xunfang.bus.v1.Bus/Consumers", connection: connection)
        }
    }

    struct ConsumerCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "consumer", abstract: "Manage one durable consumer.",
                                                        subcommands: [Delete.self])

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Delete a durable consumer nobody is bound to; what only it still needed is then let go.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The consumer's durable name.") var name: String

            func run() async throws {
                try await printBusAnswer("/xunfang.bus.v1.Bus/DeleteConsumer", payload: try JSONSerialization.data(withJSONObject: ["name": name]),
                                         connection: connection)
            }
        }
    }
}

/// Calls one of the bus's own JSON methods and prints the answer; the connection is
/// closed whether or not the call succeeds.
func printBusAnswer(_ method: String, payload: Data = Data(), connection: ConnectionOptions) async throws {
    let reply = try await connection.tool.callOnce(method, payload: payload)
    printJSON((try? JSONSerialization.jsonObject(with: reply, options: [.fragmentsAllowed])) ?? String(decoding: reply, as: UTF8.self))
}
