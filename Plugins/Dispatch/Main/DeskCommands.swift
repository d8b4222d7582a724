import ArgumentParser
import DispatchContract
import Foundation
import GridModelContract
import SwiftProtobuf
import XunfangPluginKit

/// `xunfang dispatch COMMAND`: the duty desk's commands over the running plugin's services
/// (JSON out, for scripts), and its benchmark. They join the bus as the `ctl` client.
struct DispatchTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xunfang dispatch", abstract: "Duty-desk commands against the running Dispatch plugin (JSON out).",
        subcommands: [IncidentCommand.self, UnitsCommand.self, RecommendCommand.self, AssignCommand.self, AcknowledgeCommand.self,
                      UnitStatusCommand.self, ClearCommand.self, PersonalCommand.self, AuditCommand.self, RotateKeyCommand.self, DispatchBench.self])

    static var commands: [PluginCommand] {
        configuration.subcommands.map { command in
            PluginCommand(command._commandName, command.configuration.abstract) { arguments in
                do {
                    var parsed = try DispatchTool.parseAsRoot([command._commandName] + arguments)
                    if var asyncCommand = parsed as? any AsyncParsableCommand {
                        try await asyncCommand.run()
                    } else {
                        try parsed.run()
                    }
                    return 0
                } catch {
                    let code = DispatchTool.exitCode(for: error)
                    if code.rawValue != 0 || !(error is ExitCode) {
                        let message = DispatchTool.fullMessage(for: error)
                        if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
                    }
                    return code.rawValue
                }
            }
        }
    }
}

struct DeskConnection: ParsableArguments {
    @Option(help: "County data directory (for the socket and the ctl credential).")
    var dataDir: String = ProcessInfo.processInfo.environment["XUNFANG_DATA_DIR"] ?? "data"
    @Option(help: "Bus endpoint: a socket path, unix:PATH or tcp:HOST:PORT (default: <data-dir>/bus.sock).")
    var bus: String?
    @Option(help: "Client name in the county config.")
    var name: String = "ctl"
    @Option(help: "File holding the credential (default: <data-dir>/credentials/<name>).")
    var credentialFile: String?
}

/// Calls `method` and prints the typed answer as JSON; a refusal prints its code and
/// message and exits with the gRPC status number.
func callAndPrint<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
    _ options: DeskConnection, _ method: String, _ request: Request, as response: Response.Type) async throws {
    let connection = ToolConnection(dataDirectory: options.dataDir, bus: options.bus, name: options.name, credentialFile: options.credentialFile)
    do {
        let answer = try await connection.callOnce(method, request, as: Response.self)
        print(try ContractCodec.readableJSON(answer, descriptorSet: DispatchDescriptors.fileDescriptorSet))
    } catch let error as BusClientError {
        let refusal = try JSONSerialization.data(withJSONObject: ["code": error.code.name, "message": error.message], options: [.sortedKeys])
        print(String(decoding: refusal, as: UTF8.self))
        throw ExitCode(Int32(error.code.rawValue))
    }
}
struct IncidentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incident", abstract: "Create and list incidents.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take in an incident (as the 110 desk would).")
        @OptionGroup var connection: DeskConnection
        @Option(help: "Incident type code (violent, robbery, fight, theft, traffic, dispute, help, noise).") var type: String
        @Option(help: "Longitude.") var lon: Double?
        @Option(help: "Latitude.") var lat: Double?
        @Option(help: "Instead of --lon/--lat: a grid id or site id (e.g. a must-patrol point 510000-PP001), placed by GridModel.") var place: String?
        @Option(help: "Datum of lon/lat: wgs84, gcj02 or bd09.") var datum: String = "wgs84"
        @Option(help: "What the caller reported (personal data: sealed at rest, read with `personal`).") var report: String = ""
        @Option(help: "The caller's phone number (personal data, like --report).") var phone: String = ""
        @Option(help: "Source: call-110, on-view, alarm, tip.") var source: String = "call-110"
        @Option(help: "Your id for this call, so a retry is not a second incident.") var externalId: String = ""

        func run() async throws {
            var request = Xunfang_Dispatch_V1_IntakeRequest()
            request.typeCode = type
            switch (lon, lat, place) {
            case (let lon?, let lat?, nil):
                request.location.longitude = lon
                request.location.latitude = lat
                guard let datum = ["wgs84": Xunfang_GridModel_V1_Datum.wgs84, "gcj02": .gcj02, "bd09": .bd09][datum] else {
                    throw ValidationError("--datum must be wgs84, gcj02 or bd09")
                }
                request.location.datum = datum
            case (nil, nil, let place?):
                request.placeID = place
            default:
                throw ValidationError("give --lon and --lat, or --place")
            }
            guard let source = ["call-110": Xunfang_Dispatch_V1_IncidentSource.call110, "on-view": .onView, "alarm": .alarm, "tip": .tip][source] else {
                throw ValidationError("--source must be call-110, on-view, alarm or tip")
            }
            request.source = source
            request.report = report
            request.callerPhone = phone
            request.externalID = externalId
            try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/Intake", request, as: Xunfang_Dispatch_V1_IntakeResponse.self)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Newest incidents first.")
        @OptionGroup var connection: DeskConnection
        @Flag(help: "Only incidents still needing work.") var open = false
        @Option(help: "At most this many.") var limit: UInt32 = 100

        func run() async throws {
            var request = Xunfang_Dispatch_V1_ListIncidentsRequest()
            request.openOnly = open
            request.limit = limit
            try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/ListIncidents", request, as: Xunfang_Dispatch_V1_ListIncidentsResponse.self)
        }
    }
}

struct UnitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "units", abstract: "The roster with statuses and positions.")
    @OptionGroup var connection: DeskConnection

    func run() async throws {
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(),
                               as: Xunfang_Dispatch_V1_ListUnitsResponse.self)
    }
}

struct RecommendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "recommend", abstract: "Units for an incident, best first, with why.")
    @OptionGroup var connection: DeskConnection
    @Argument(help: "Incident id.") var incident: String

    func run() async throws {
        var request = Xunfang_Dispatch_V1_RecommendRequest()
        request.incidentID = incident
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/Recommend", request, as: Xunfang_Dispatch_V1_RecommendResponse.self)
    }
}

struct AssignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "assign", abstract: "Order a unit (default: the best recommended) to an incident.")
    @OptionGroup var connection: DeskConnection
    @Argument(help: "Incident id.") var incident: String
    @Argument(help: "Call sign (default: the best recommendation).") var unit: String?

    func run() async throws {
        var request = Xunfang_Dispatch_V1_AssignRequest()
        request.incidentID = incident
        request.callSign = unit ?? ""
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/Assign", request, as: Xunfang_Dispatch_V1_AssignResponse.self)
    }
}

struct AcknowledgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "acknowledge", abstract: "A unit acknowledges its order (as its terminal would).")
    @OptionGroup var connection: DeskConnection
    @Argument(help: "Incident id.") var incident: String
    @Argument(help: "Call sign.") var unit: String

    func run() async throws {
        var request = Xunfang_Dispatch_V1_AcknowledgeRequest()
        request.incidentID = incident
        request.callSign = unit
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/Acknowledge", request, as: Xunfang_Dispatch_V1_AssignResponse.self)
    }
}

struct UnitStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unit-status", abstract: "Set a unit's status (as its terminal or the duty officer would); its incident moves with it.")
    @OptionGroup var connection: DeskConnection
    @Argument(help: "Call sign.") var unit: String
    @Argument(help: "off-duty, available, en-route, on-scene, returning or out-of-service.") var status: String

    static let statuses: [String: Xunfang_Dispatch_V1_UnitStatus] = [
        "off-duty": .offDuty, "available": .available, "en-route": .enRoute, "on-scene": .onScene, "returning": .returning,
        "out-of-service": .outOfService,
    ]

    func run() async throws {
        guard let status = Self.statuses[status] else {
            throw ValidationError("status must be one of \(Self.statuses.keys.sorted().joined(separator: ", "))")
        }
        var request = Xunfang_Dispatch_V1_UpdateUnitRequest()
        request.callSign = unit
        request.status = status
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/UpdateUnit", request, as: Xunfang_Dispatch_V1_Unit.self)
    }
}

struct ClearCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: "Clear an incident (units return), optionally closing it.")
    @OptionGroup var connection: DeskConnection
    @Argument(help: "Incident id.") var incident: String
    @Flag(help: "Close it too.") var close = false

    func run() async throws {
        var request = Xunfang_Dispatch_V1_ClearRequest()
        request.incidentID = incident
        request.close = close
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/Clear", request, as: Xunfang_Dispatch_V1_Incident.self)
    }
}

struct PersonalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "personal", abstract: "Read an incident's report and caller phone (audited: who, when, why).")
    @OptionGroup var connection: DeskConnection
    @Argument(help: "Incident id.") var incident: String
    @Option(help: "Why you read it; kept in the audit trail.") var purpose: String
    @Option(help: "The officer you read it for.") var onBehalfOf: String = ""

    func run() async throws {
        var request = Xunfang_Dispatch_V1_ReadPersonalRequest()
        request.incidentID = incident
        request.purpose = purpose
        request.onBehalfOf = onBehalfOf
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/ReadPersonal", request, as: Xunfang_Dispatch_V1_PersonalRecord.self)
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Who stored, read, exported or erased personal data, newest first.")
    @OptionGroup var connection: DeskConnection
    @Option(help: "Only this incident.") var incident: String = ""
    @Option(help: "At most this many.") var limit: UInt32 = 100

    func run() async throws {
        var request = Xunfang_Dispatch_V1_AuditRequest()
        request.incidentID = incident
        request.limit = limit
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/Audit", request, as: Xunfang_Dispatch_V1_AuditResponse.self)
    }
}

struct RotateKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key", abstract: "Seal personal data under a fresh key and delete the old ones (see docs/operations.md).")
    @OptionGroup var connection: DeskConnection

    func run() async throws {
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/RotateKey", Xunfang_Dispatch_V1_RotateKeyRequest(),
                               as: Xunfang_Dispatch_V1_RotateKeyResponse.self)
    }
}
