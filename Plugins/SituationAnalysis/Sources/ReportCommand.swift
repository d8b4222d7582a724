import Foundation
import XunfangPluginKit

/// `xunfang situation report`: the daily brief or the ten-day report from the history
/// file, no bus needed, as HTML (one self-contained page) or JSON.
public enum ReportCommand {
    static let usage = """
    usage: xunfang situation report [--kind daily|ten-day] [--day yyyy-mm-dd] [--out FILE.html|FILE.json] [--data-dir DIR]
    --day defaults to yesterday (China time); a ten-day report covers the ten days holding it.
    Without --out the JSON goes to standard output.
    """

    public static func run(_ arguments: [String], environment: [String: String]? = nil, now: Int64? = nil) -> Int32 {
        let now = now ?? Int64(Date().timeIntervalSince1970 * 1_000)
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard let options = commandOptions(arguments, allowed: ["--kind", "--day", "--out", "--data-dir"]) else { return fail(usage) }
        guard let kind = Report.Kind(rawValue: options["--kind"] ?? "daily") else { return fail("--kind must be daily or ten-day") }
        let day: Int64
        if let label = options["--day"] {
            guard let parsed = ChinaTime.dayNumber(label: label) else { return fail("--day \(label) is not yyyy-mm-dd") }
            day = parsed
        } else {
            day = ChinaTime.dayNumber(now) - 1
        }
        let dataDirectory = options["--data-dir"] ?? environment["XUNFANG_DATA_DIR"] ?? "data"
        let path = dataDirectory + "/situation/situation.sqlite"
        guard FileManager.default.fileExists(atPath: path) else { return fail("no history at \(path) (run the stack, or xunfang situation import)") }
        do {
            let content = try Report.make(kind, day: day, store: try HistoryStore(path: path))
            guard let out = options["--out"] else {
                print(try Report.json(content))
                return 0
            }
            let text = out.hasSuffix(".json") ? try Report.json(content) : Report.html(content)
            try text.write(toFile: out, atomically: true, encoding: .utf8)
            print("\(kind.rawValue) report \(content.from)…\(content.to): \(content.incidents) incidents -> \(out)")
            return 0
        } catch {
            return fail("\(error)")
        }
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang situation report: \(message)\n".utf8))
        return 1
    }
}
