import Foundation
import XunfangPluginKit
import XunfangGeo

/// `xunfang situation density`: the kernel density of incidents over some days as a
/// GeoJSON layer (cells at 5% of the peak or more, with `per_km2`), from the history file.
public enum DensityCommand {
    static let usage = """
    usage: xunfang situation density [--day yyyy-mm-dd] [--days N] [--type CODE] [--bandwidth M] [--cell M] [--out FILE.geojson] [--data-dir DIR]
    --day: the last day (default yesterday, China time); --days: how many up to it (1–366, default 28);
    --bandwidth: the quartic kernel's radius in metres (50–5000, default 500); --cell: cell side (10–1000, default 100).
    Without --out the GeoJSON goes to standard output; the densest places are listed either way.
    """

    public static func run(_ arguments: [String], environment: [String: String]? = nil, now: Int64? = nil) -> Int32 {
        let now = now ?? Int64(Date().timeIntervalSince1970 * 1_000)
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard let options = commandOptions(arguments, allowed: ["--day", "--days", "--type", "--bandwidth", "--cell", "--out", "--data-dir"]) else {
            return fail(usage)
        }
        var last = ChinaTime.dayNumber(now) - 1
        if let label = options["--day"] {
            guard let parsed = ChinaTime.dayNumber(label: label) else { return fail("--day \(label) is not yyyy-mm-dd") }
            last = parsed
        }
        guard let days = Int64(options["--days"] ?? "28"), (1...366).contains(days) else { return fail("--days must be 1 to 366") }
        guard let bandwidth = Double(options["--bandwidth"] ?? "500"), let cell = Double(options["--cell"] ?? "100") else {
            return fail("--bandwidth and --cell are metres")
        }
        let path = (options["--data-dir"] ?? environment["XUNFANG_DATA_DIR"] ?? "data") + "/situation/situation.sqlite"
        guard FileManager.default.fileExists(atPath: path) else { return fail("no history at \(path) (run the stack, or xunfang situation import)") }
        do {
            let records = try HistoryStore(path: path).records(from: ChinaTime.start(ofDay: last - days + 1), to: ChinaTime.start(ofDay: last + 1))
                .filter { options["--type"] == nil || $0.type == options["--type"] }
            let period = "\(ChinaTime.label(ofDay: last - days + 1))…\(ChinaTime.label(ofDay: last))"
            guard let surface = try DensitySurface.make(records.map { GeoPoint(longitude: $0.longitude, latitude: $0.latitude) },
                                                        bandwidthMetres: bandwidth, cellMetres: cell) else {
                return fail("no incidents in \(period)")
            }
            let json = try JSONSerialization.data(withJSONObject: surface.geoJSON(), options: [.sortedKeys])
            let peaks = surface.peaks(5).map { peak in
                let centre = surface.centre(column: peak.column, row: peak.row)
                return String(format: "%.5f,%.5f %.1f/km²", centre.longitude, centre.latitude, peak.perKm2)
            }
            let summary = "\(records.count) incidents \(period); densest: \(peaks.joined(separator: "; "))"
            if let out = options["--out"] {
                try json.write(to: URL(fileURLWithPath: out))
                print(summary + " -> \(out)")
            } else {
                print(String(decoding: json, as: UTF8.self))
                FileHandle.standardError.write(Data((summary + "\n").utf8))
            }
            return 0
        } catch {
            return fail("\(error)")
        }
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang situation density: \(message)\n".utf8))
        return 1
    }
}
