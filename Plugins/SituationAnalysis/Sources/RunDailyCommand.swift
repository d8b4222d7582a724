import Foundation
import XunfangPluginKit
import SituationAnalysisContract

/// `xunfang situation run-daily [--date yyyy-mm-dd]`: the running plugin computes the day's
/// colours now and sends the warnings not yet sent for it (RunDaily over the bus).
public enum RunDailyCommand {
    static let usage = """
    usage: xunfang situation run-daily [--date yyyy-mm-dd] [--data-dir DIR] [--bus ENDPOINT]
    --date defaults to yesterday (China time). A station already warned for the day at its
    colour or above is not warned again. Connects as the ctl client (DIR/credentials/ctl).
    """

    public static func run(_ arguments: [String], environment: [String: String]? = nil) async -> Int32 {
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard let options = commandOptions(arguments, allowed: ["--date", "--data-dir", "--bus"]) else { return fail(usage) }
        var request = Xunfang_Situation_V1_RunDailyRequest()
        if let date = options["--date"] {
            guard ChinaTime.dayNumber(label: date) != nil else { return fail("--date \(date) is not yyyy-mm-dd") }
            request.day = date
        }
        let connection = ToolConnection(options: options, environment: environment)
        do {
            let answer = try await connection.callOnce(SituationAnalysisPlugin.service + "RunDaily", request, as: Xunfang_Situation_V1_RunDailyResponse.self,
                                                       timeout: .seconds(60))
            let coloured = answer.colours.stations.filter { $0.colour != .green }.map { "\($0.areaID) \(Colour(rawValue: $0.colour.rawValue)?.name ?? "?")" }
            print("\(answer.colours.day): \(answer.colours.stations.count) stations, \(coloured.isEmpty ? "all green" : coloured.joined(separator: ", "))")
            print("warned now: \(answer.warned.isEmpty ? "none" : answer.warned.joined(separator: ", "))"
                + (answer.alreadyWarned.isEmpty ? "" : "; already warned: \(answer.alreadyWarned.joined(separator: ", "))"))
            return 0
        } catch {
            return fail("\(error)")
        }
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang situation run-daily: \(message)\n".utf8))
        return 1
    }
}
