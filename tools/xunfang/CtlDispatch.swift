import ArgumentParser
import Foundation
import SwiftProtobuf
import XunfangProto

/// Duty-desk shortcuts over the Dispatch plugin's services (JSON out, for scripts).
struct IncidentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incident", abstract: "Create and list incidents.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take in an incident (as the 110 desk would).")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Incident type code (violent, robbery, fight, theft, traffic, dispute, help, noise).") var type: String
        @Option(help: "Longitude.") var lon: Double?
        @Option(help: "Latitude.") var lat: Double?
        @Option(help: "Instead of --lon/--lat: a grid id or site id (e.g. a must-patrol point 510000-PP001), placed by GridModel.") var place: String?
        @Option(help: "Datum of lon/lat: wgs84, gcj02 or bd09.") var datum: String = "wgs84"
        @Option(help: "What the caller reported.") var report: String = ""
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
            request.externalID = externalId
            try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/Intake", payload: request.serializedData())
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Newest incidents first.")
        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Only incidents still needing work.") var open = false
        @Option(help: "At most this many.") var limit: UInt32 = 100

        func run() async throws {
            var request = Xunfang_Dispatch_V1_ListIncidentsRequest()
            request.openOnly = open
            request.limit = limit
            try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/ListIncidents", payload: request.serializedData())
        }
    }
}

struct UnitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "units", abstract: "The roster with statuses and positions.")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/ListUnits", payload: Xunfang_Dispatch_V1_ListUnitsRequest().serializedData())
    }
}

struct RecommendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "recommend", abstract: "Units for an incident, best first, with why.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Incident id.") var incident: String

    func run() async throws {
        var request = Xunfang_Dispatch_V1_RecommendRequest()
        request.incidentID = incident
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/Recommend", payload: request.serializedData())
    }
}

struct AssignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "assign", abstract: "Order a unit (default: the best recommended) to an incident.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Incident id.") var incident: String
    @Argument(help: "Call sign (default: the best recommendation).") var unit: String?

    func run() async throws {
        var request = Xunfang_Dispatch_V1_AssignRequest()
        request.incidentID = incident
        request.callSign = unit ?? ""
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/Assign", payload: request.serializedData())
    }
}

struct AcknowledgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "acknowledge", abstract: "A unit acknowledges its order (as its terminal would).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Incident id.") var incident: String
    @Argument(help: "Call sign.") var unit: String

    func run() async throws {
        var request = Xunfang_Dispatch_V1_AcknowledgeRequest()
        request.incidentID = incident
        request.callSign = unit
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/Acknowledge", payload: request.serializedData())
    }
}

struct ClearCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: "Clear an incident (units return), optionally closing it.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Incident id.") var incident: String
    @Flag(help: "Close it too.") var close = false

    func run() async throws {
        var request = Xunfang_Dispatch_V1_ClearRequest()
        request.incidentID = incident
        request.close = close
        try await callAndPrint(connection, "/xunfang.dispatch.v1.Dispatch/Clear", payload: request.serializedData())
    }
}
