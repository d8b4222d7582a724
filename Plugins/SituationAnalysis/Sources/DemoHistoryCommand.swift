import Foundation
import XunfangPluginKit

/// `xunfang situation demo-history`: the demo county's seeded history as the CSV that
/// `xunfang situation import` reads, for analysts, tests and the harness to start from.
public enum DemoHistoryCommand {
    static let usage = """
    usage: xunfang situation demo-history [--days N] [--end yyyy-mm-dd] [--seed S] [--out FILE.csv]
    N days (1 to 3660, default 400) ending on --end (default yesterday, China time), at the
    demo county's rates (Plugins/SituationAnalysis/README.md). Without --out the CSV goes to
    standard output. The same seed and days give the same file.
    """

    public static func run(_ arguments: [String]) -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--days", "--end", "--seed", "--out"]) else { return fail(usage) }
        guard let days = Int64(options["--days"] ?? "400"), (1...3_660).contains(days) else { return fail("--days must be 1 to 3660") }
        guard let seed = UInt64(options["--seed"] ?? "600000") else { return fail("--seed must be a whole number ≥ 0") }
        let yesterday = ChinaTime.dayNumber(Int64(Date().timeIntervalSince1970 * 1_000)) - 1
        guard let end = options["--end"].map({ ChinaTime.dayNumber(label: $0) }) ?? yesterday else {
            return fail("--end \(options["--end"]!) is not yyyy-mm-dd")
        }
        guard end <= yesterday else { return fail("--end must be yesterday or earlier (the import refuses the future)") }
        let records = DemoIncidents().incidents(days: end - days + 1...end, seed: seed)
        let text = DemoIncidents.csv(records)
        guard let path = options["--out"] else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return 0
        }
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            return fail("cannot write \(path): \(error.localizedDescription)")
        }
        print("wrote \(records.count) incidents over \(days) days (\(ChinaTime.label(ofDay: end - days + 1)) to \(ChinaTime.label(ofDay: end))) to \(path)")
        return 0
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang situation demo-history: \(message)\n".utf8))
        return 1
    }
}
