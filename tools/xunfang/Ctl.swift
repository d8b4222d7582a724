import ArgumentParser
import Foundation
import Logging
import SwiftProtobuf
import XunfangConfig
import XunfangPluginKit
import XunfangProto
import XunfangWire

/// Message types `ctl` can turn into and out of JSON by their full protobuf name.
enum KnownMessages {
    static let types: [String: any SwiftProtobuf.Message.Type] = Dictionary(uniqueKeysWithValues: [
        Xunfang_Template_V1_EchoRequest.self, Xunfang_Template_V1_EchoResponse.self, Xunfang_Template_V1_Note.self,
        Xunfang_GridModel_V1_GridChanged.self, Xunfang_Dispatch_V1_Incident.self, Xunfang_Dispatch_V1_Unit.self,
        Xunfang_Dispatch_V1_Order.self, Xunfang_Dispatch_V1_UnitPosition.self, Xunfang_Dispatch_V1_MoveUpResponse.self,
        Xunfang_Dispatch_V1_ShiftKpis.self, Xunfang_Situation_V1_ColoursResponse.self, Xunfang_Situation_V1_Warning.self,
        Xunfang_Situation_V1_DeploymentPlan.self,
    ].map { ($0.protoMessageName, $0) })

    /// Request and response types of known services.
    static let methods: [String: (any SwiftProtobuf.Message.Type, any SwiftProtobuf.Message.Type)] = [
        "/xunfang.template.v1.Template/Echo": (Xunfang_Template_V1_EchoRequest.self, Xunfang_Template_V1_EchoResponse.self),
        "/xunfang.grid_model.v1.GridModel/Locate": (Xunfang_GridModel_V1_LocateRequest.self, Xunfang_GridModel_V1_LocateResponse.self),
        "/xunfang.grid_model.v1.GridModel/FourZones": (Xunfang_GridModel_V1_LocateRequest.self, Xunfang_GridModel_V1_FourZonesResponse.self),
        "/xunfang.grid_model.v1.GridModel/Eta": (Xunfang_GridModel_V1_EtaRequest.self, Xunfang_GridModel_V1_EtaResponse.self),
        "/xunfang.grid_model.v1.GridModel/Isochrone": (Xunfang_GridModel_V1_IsochroneRequest.self, Xunfang_GridModel_V1_IsochroneResponse.self),
        "/xunfang.grid_model.v1.GridModel/Coverage": (Xunfang_GridModel_V1_CoverageRequest.self, Xunfang_GridModel_V1_CoverageResponse.self),
        "/xunfang.grid_model.v1.GridModel/PlacePosts": (Xunfang_GridModel_V1_PlacePostsRequest.self, Xunfang_GridModel_V1_PlacePostsResponse.self),
        "/xunfang.grid_model.v1.GridModel/ListAreas": (Xunfang_GridModel_V1_ListAreasRequest.self, Xunfang_GridModel_V1_ListAreasResponse.self),
        "/xunfang.grid_model.v1.GridModel/ListSites": (Xunfang_GridModel_V1_ListSitesRequest.self, Xunfang_GridModel_V1_ListSitesResponse.self),
        "/xunfang.dispatch.v1.Dispatch/Intake": (Xunfang_Dispatch_V1_IntakeRequest.self, Xunfang_Dispatch_V1_IntakeResponse.self),
        "/xunfang.dispatch.v1.Dispatch/Recommend": (Xunfang_Dispatch_V1_RecommendRequest.self, Xunfang_Dispatch_V1_RecommendResponse.self),
        "/xunfang.dispatch.v1.Dispatch/Assign": (Xunfang_Dispatch_V1_AssignRequest.self, Xunfang_Dispatch_V1_AssignResponse.self),
        "/xunfang.dispatch.v1.Dispatch/Acknowledge": (Xunfang_Dispatch_V1_AcknowledgeRequest.self, Xunfang_Dispatch_V1_AssignResponse.self),
        "/xunfang.dispatch.v1.Dispatch/UpdateUnit": (Xunfang_Dispatch_V1_UpdateUnitRequest.self, Xunfang_Dispatch_V1_Unit.self),
        "/xunfang.dispatch.v1.Dispatch/Clear": (Xunfang_Dispatch_V1_ClearRequest.self, Xunfang_Dispatch_V1_Incident.self),
        "/xunfang.dispatch.v1.Dispatch/ListIncidents": (Xunfang_Dispatch_V1_ListIncidentsRequest.self, Xunfang_Dispatch_V1_ListIncidentsResponse.self),
        "/xunfang.dispatch.v1.Dispatch/ListUnits": (Xunfang_Dispatch_V1_ListUnitsRequest.self, Xunfang_Dispatch_V1_ListUnitsResponse.self),
        "/xunfang.dispatch.v1.Dispatch/Kpis": (Xunfang_Dispatch_V1_KpisRequest.self, Xunfang_Dispatch_V1_KpisResponse.self),
        "/xunfang.dispatch.v1.Dispatch/ExportEido": (Xunfang_Dispatch_V1_ExportRequest.self, Xunfang_Dispatch_V1_ExportResponse.self),
        "/xunfang.dispatch.v1.Dispatch/MajorIncident": (Xunfang_Dispatch_V1_MajorIncidentRequest.self, Xunfang_Dispatch_V1_MajorIncidentResponse.self),
        "/xunfang.dispatch.v1.Dispatch/MoveUp": (Xunfang_Dispatch_V1_MoveUpRequest.self, Xunfang_Dispatch_V1_MoveUpResponse.self),
        "/xunfang.dispatch.v1.Dispatch/AcceptMoveUp": (Xunfang_Dispatch_V1_AcceptMoveUpRequest.self, Xunfang_Dispatch_V1_AcceptMoveUpResponse.self),
        "/xunfang.grid_model.v1.GridModel/Edit": (Xunfang_GridModel_V1_EditRequest.self, Xunfang_GridModel_V1_EditResponse.self),
        "/xunfang.situation.v1.Situation/Breakdown": (Xunfang_Situation_V1_BreakdownRequest.self, Xunfang_Situation_V1_BreakdownResponse.self),
        "/xunfang.situation.v1.Situation/Colours": (Xunfang_Situation_V1_ColoursRequest.self, Xunfang_Situation_V1_ColoursResponse.self),
        "/xunfang.situation.v1.Situation/Plan": (Xunfang_Situation_V1_PlanRequest.self, Xunfang_Situation_V1_DeploymentPlan.self),
        "/xunfang.situation.v1.Situation/Report": (Xunfang_Situation_V1_ReportRequest.self, Xunfang_Situation_V1_ReportResponse.self),
        "/xunfang.situation.v1.Situation/Emerging": (Xunfang_Situation_V1_EmergingRequest.self, Xunfang_Situation_V1_EmergingResponse.self),
    ]

    static func encode(json: String, as type: (any SwiftProtobuf.Message.Type)?) throws -> Data {
        guard let type else { return Data(json.utf8) }
        do {
            return try type.init(jsonString: json).serializedData()
        } catch {
            throw ValidationError("input is not a JSON \(type.protoMessageName): \(error)")
        }
    }

    static func decode(_ data: Data, as type: (any SwiftProtobuf.Message.Type)?) -> Any {
        if let type, let message = try? type.init(serializedBytes: data), let json = try? message.jsonString(),
           let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) {
            return object
        }
        if let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) { return object }
        if let text = String(data: data, encoding: .utf8) { return text }
        return ["base64": data.base64EncodedString()]
    }
}

/// Calls `method` and prints the answer as JSON; a refusal prints its code and message
/// and exits with the gRPC status number.
func callAndPrint(_ connection: ConnectionOptions, _ method: String, payload: Data, timeoutMs: Int = 10_000) async throws {
    let client = try await connection.connect()
    do {
        let reply = try await client.callRaw(method, payload: payload, timeout: .milliseconds(timeoutMs))
        printJSON(KnownMessages.decode(reply, as: KnownMessages.methods[method]?.1))
        await client.close()
    } catch let error as BusClientError {
        await client.close()
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

    func connect() async throws -> BusClient {
        let credential: String
        if let credentialFile {
            credential = try String(contentsOfFile: credentialFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            credential = try Credentials.read(dataDirectory: dataDir, name: name)
        }
        let endpoint = PluginMain.parseEndpoint(bus ?? "\(dataDir)/bus.sock")
        let client = BusClient(transport: .socket(endpoint), manifest: PluginManifest(name: name, version: "0.1.0"),
                               instance: "\(name)-\(getpid())", credential: credential,
                               logger: Logger(label: "xunfang.ctl", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await client.start()
        return client
    }
}

func printJSON(_ object: Any) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])) ?? Data()
    print(String(decoding: data, as: UTF8.self))
}

struct CtlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl", abstract: "Talk to a running bus like any client (JSON in and out).",
        subcommands: [Publish.self, Subscribe.self, Call.self, Stats.self, Consumers.self, ConsumerCommand.self, IncidentCommand.self, UnitsCommand.self,
                      RecommendCommand.self, AssignCommand.self, AcknowledgeCommand.self, ClearCommand.self])

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish one message; prints its receipt.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Topic, e.g. template.note") var topic: String
        @Option(help: "Payload: JSON of --type, or raw text without --type.") var data: String = "{}"
        @Option(help: "Full protobuf name of the payload, e.g. xunfang.template.v1.Note") var type: String?
        @Option(help: "Message id for de-duplication.") var messageId: String = ""

        func run() async throws {
            let messageType = try type.map { name in
                guard let known = KnownMessages.types[name] else { throw ValidationError("unknown message type \(name)") }
                return known
            }
            let payload = try KnownMessages.encode(json: data, as: messageType)
            let client = try await connection.connect()
            defer { Task { await client.close() } }
            let receipt = try await client.publishConfirmed(topic, payload: payload, messageID: messageId)
            printJSON(["topic": topic, "messageId": receipt.messageID, "sequence": receipt.sequence])
            await client.close()
        }
    }

    struct Subscribe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print deliveries as JSON lines.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Topic pattern, e.g. 'incident.>'") var pattern: String
        @Option(help: "Full protobuf name to decode payloads as.") var type: String?
        @Option(help: "Stop after this many messages.") var count: Int?
        @Option(help: "Durable consumer name (acknowledges each printed delivery).") var durable: String?

        func run() async throws {
            let client = try await connection.connect()
            let messageType = type.flatMap { KnownMessages.types[$0] }
            var printed = 0
            for await delivery in try await client.subscribe(pattern, durable: durable) {
                printJSON(["topic": delivery.topic, "messageId": delivery.messageID, "publisher": delivery.publisher,
                           "sequence": delivery.sequence, "attempt": delivery.attempt,
                           "payload": KnownMessages.decode(delivery.payload, as: messageType)])
                fflush(nil)
                delivery.ack()
                printed += 1
                if let count, printed >= count { break }
            }
            await client.close()
        }
    }

    struct Call: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Call a service; prints the response as JSON.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Method path, e.g. /xunfang.template.v1.Template/Echo") var method: String
        @Option(help: "Request as JSON.") var data: String = "{}"
        @Option(help: "Deadline in milliseconds.") var timeoutMs: Int = 10_000

        func run() async throws {
            let payload = try KnownMessages.encode(json: data, as: KnownMessages.methods[method]?.0)
            try await callAndPrint(connection, method, payload: payload, timeoutMs: timeoutMs)
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
    let client = try await connection.connect()
    let reply: Data
    do {
        reply = try await client.callRaw(method, payload: payload)
    } catch {
        await client.close()
        throw error
    }
    await client.close()
    printJSON(KnownMessages.decode(reply, as: nil))
}
