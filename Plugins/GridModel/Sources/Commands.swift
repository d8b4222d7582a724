import Foundation
import XunfangGeo
import XunfangPluginKit

/// The plugin's own commands, run as `xunfang grid-model import|export ...` (the CLI
/// execs `xunfang-plugin-grid-model` with the rest of the line). They work on the
/// store file directly; a running plugin notices the new revision and reloads.
public enum GridModelCommands {
    public static let names: Set<String> = ["import", "export", "revisions", "rollback"]

    static let usage = """
    usage: xunfang grid-model import FILE.geojson [--datum wgs84|gcj02|bd09] [--dry-run] [--replace] [--max-removal PERCENT] [--data-dir DIR]
           xunfang grid-model export [--out FILE.geojson] [--data-dir DIR]
           xunfang grid-model revisions [--data-dir DIR]
           xunfang grid-model rollback [--to REVISION] [--data-dir DIR]
    The store is DIR/grid-model/grid-model.sqlite (DIR: --data-dir, $XUNFANG_DATA_DIR or ./data).
    An import prints what it changes. One that would remove more than PERCENT of the stored
    areas or sites (default $GRID_MODEL_MAX_REMOVAL_PERCENT or 10) is refused unless --replace.
    The \(GridStore.keptRevisions) revisions before the current one are kept; rollback restores one (default: the
    one before) as a new revision, which the running plugin loads.
    """

    /// Runs `arguments` (without the program name) and returns the exit status.
    public static func run(_ arguments: [String], environment: [String: String]? = nil) -> Int32 {
        let environment = environment ?? ProcessInfo.processInfo.environment
        var rest = Array(arguments.dropFirst())
        func option(_ name: String) -> String? {
            guard let index = rest.firstIndex(of: name), index + 1 < rest.count else { return nil }
            defer { rest.removeSubrange(index...index + 1) }
            return rest[index + 1]
        }
        func flag(_ name: String) -> Bool {
            guard let index = rest.firstIndex(of: name) else { return false }
            rest.remove(at: index)
            return true
        }
        let dataDirectory = option("--data-dir") ?? environment["XUNFANG_DATA_DIR"] ?? "data"
        let directory = "\(dataDirectory)/grid-model"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let store = try GridStore(path: "\(directory)/grid-model.sqlite")
            switch arguments.first {
            case "import":
                let datumName = option("--datum") ?? "wgs84"
                guard let datum = Datum(rawValue: datumName) else { return fail("--datum must be wgs84, gcj02 or bd09") }
                let limitText = option("--max-removal") ?? environment["GRID_MODEL_MAX_REMOVAL_PERCENT"] ?? "10"
                guard let limit = Double(limitText), (0...100).contains(limit) else { return fail("--max-removal must be a percentage from 0 to 100") }
                let (dryRun, replace) = (flag("--dry-run"), flag("--replace"))
                guard rest.count == 1 else { return fail(usage) }
                return try importFile(rest[0], datum: datum, into: store, environment: environment, dryRun: dryRun, replace: replace,
                                      maxRemoval: limit / 100)
            case "revisions":
                guard rest.isEmpty else { return fail(usage) }
                print("current: revision \(try store.revision())")
                for kept in try store.keptRevisions() {
                    let when = ChinaTime.format(milliseconds: kept.replacedAt)
                    print("revision \(kept.revision): \(kept.areas) areas, \(kept.sites) sites; replaced \(when) by \(kept.reason)")
                }
            case "rollback":
                let target = option("--to")
                guard rest.isEmpty else { return fail(usage) }
                let kept = try store.keptRevisions()
                guard let revision = target.map({ UInt64($0) }) ?? kept.first?.revision else {
                    return fail(target == nil ? "no earlier revision is kept" : "--to takes a revision number")
                }
                guard let snapshot = try store.kept(revision) else {
                    return fail("revision \(revision) is not kept (kept: \(kept.map { String($0.revision) }.joined(separator: ", ")))")
                }
                try check(snapshot.areas, snapshot.sites, environment: environment)
                let diff = ImportDiff(from: try store.load(), to: snapshot.areas, snapshot.sites)
                let new = try store.replace(areas: snapshot.areas, sites: snapshot.sites, reason: "rollback to \(revision)")
                print(diff.summary)
                print("restored revision \(revision) as revision \(new)")
            case "export":
                let out = option("--out")
                guard rest.isEmpty else { return fail(usage) }
                let snapshot = try store.load() ?? GridStore.Snapshot(revision: 0, areas: [], sites: [])
                let data = GeoJSON.write(CountyGeoJSON.features(areas: snapshot.areas, sites: snapshot.sites))
                if let out {
                    try data.write(to: URL(fileURLWithPath: out), options: .atomic)
                    print("exported revision \(snapshot.revision): \(snapshot.areas.count) areas, \(snapshot.sites.count) sites -> \(out)")
                } else {
                    FileHandle.standardOutput.write(data)
                    print("")
                }
            default:
                return fail(usage)
            }
            return 0
        } catch let error as GeoError {
            return fail(error.message)
        } catch {
            return fail("\(error)")
        }
    }

    /// Imports a GeoJSON file: checked as the plugin will load it, the change summarised,
    /// and refused when it removes more than `maxRemoval` of what is stored without `replace`.
    static func importFile(_ path: String, datum: Datum, into store: GridStore, environment: [String: String], dryRun: Bool, replace: Bool,
                           maxRemoval: Double) throws -> Int32 {
        let features = try GeoJSON.read(path: path)
        let (areas, sites) = try CountyGeoJSON.records(from: features, datum: datum)
        guard !areas.isEmpty || !sites.isEmpty else { return fail("\(path) holds no area and no site; nothing was changed") }
        try check(areas, sites, environment: environment)
        let diff = ImportDiff(from: try store.load(), to: areas, sites)
        print(diff.summary)
        if diff.removedShare > maxRemoval && !replace {
            let percent = Int((diff.removedShare * 100).rounded())
            return fail("this import would remove \(percent)% of the stored areas or sites (more than \(Int(maxRemoval * 100))%); "
                        + "nothing was changed. Check the file, then run again with --replace")
        }
        if dryRun {
            print("dry run: nothing was changed")
            return 0
        }
        let revision = try store.replace(areas: areas, sites: sites, reason: "import of \((path as NSString).lastPathComponent)")
        print("imported \(areas.count) areas (\(areas.count { $0.level == .grid }) grids) and \(sites.count) sites; revision \(revision)"
              + " (the previous one is kept: xunfang grid-model rollback)")
        return 0
    }

    /// Builds the model as the plugin will load it, so a bad county never reaches the store.
    static func check(_ areas: [AreaRecord], _ sites: [SiteRecord], environment: [String: String]) throws {
        let roads = try GridModelPlugin.roads(settings: environment)
        let origin = GridModelPlugin.origin(of: areas) ?? roads.coordinates.first ?? DemoCounty.parameters.origin
        _ = try CountyModel(revision: 0, areas: areas, sites: sites, roads: roads, origin: origin)
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang grid-model: \(message)\n".utf8))
        return 1
    }
}
