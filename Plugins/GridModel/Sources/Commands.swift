import Foundation
import XunfangGeo

/// The plugin's own commands, run as `xunfang grid-model import|export ...` (the CLI
/// execs `xunfang-plugin-grid-model` with the rest of the line). They work on the
/// store file directly; a running plugin notices the new revision and reloads.
public enum GridModelCommands {
    public static let names: Set<String> = ["import", "export"]

    static let usage = """
    usage: xunfang grid-model import FILE.geojson [--datum wgs84|gcj02|bd09] [--data-dir DIR]
           xunfang grid-model export [--out FILE.geojson] [--data-dir DIR]
    The store is DIR/grid-model/grid-model.sqlite (DIR: --data-dir, $XUNFANG_DATA_DIR or ./data).
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
        let dataDirectory = option("--data-dir") ?? environment["XUNFANG_DATA_DIR"] ?? "data"
        let directory = "\(dataDirectory)/grid-model"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let store = try GridStore(path: "\(directory)/grid-model.sqlite")
            switch arguments.first {
            case "import":
                let datumName = option("--datum") ?? "wgs84"
                guard let datum = Datum(rawValue: datumName) else { return fail("--datum must be wgs84, gcj02 or bd09") }
                guard rest.count == 1 else { return fail(usage) }
                let features = try GeoJSON.read(path: rest[0])
                let (areas, sites) = try CountyGeoJSON.records(from: features, datum: datum)
                // Checked as the plugin will load it, so a bad file never reaches the store.
                let roads = try GridModelPlugin.roads(settings: environment)
                let origin = GridModelPlugin.origin(of: areas) ?? roads.coordinates.first ?? DemoCounty.parameters.origin
                _ = try CountyModel(revision: 0, areas: areas, sites: sites, roads: roads, origin: origin)
                let revision = try store.replace(areas: areas, sites: sites)
                print("imported \(areas.count) areas (\(areas.count { $0.level == .grid }) grids) and \(sites.count) sites; revision \(revision)")
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

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang grid-model: \(message)\n".utf8))
        return 1
    }
}
