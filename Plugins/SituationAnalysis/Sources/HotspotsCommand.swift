import Foundation
import XunfangGeo

/// `xunfang situation hotspots`: the analyst's command, on any polygon file, no bus.
public enum HotspotsCommand {
    static let usage = """
    usage: xunfang situation hotspots --polygons FILE.geojson --value FIELD
             --weights queen|rook|knn:K|distance:D --statistic gi-star|local-moran|moran
             [--row-standardize] [--permutations N] [--seed S] [--alpha A] [--planar] [--json]
    Coordinates are longitude/latitude (projected to metres around the data) unless --planar.
    distance:D is in metres (or the file's planar units). With permutations, local results
    carry pseudo p-values and Benjamini–Hochberg significance at --alpha (default 0.05).
    """

    public static func run(_ arguments: [String]) -> Int32 {
        do {
            print(try output(arguments))
            return 0
        } catch let error as GeoError {
            FileHandle.standardError.write(Data("xunfang situation hotspots: \(error.message)\n".utf8))
            return 1
        } catch {
            FileHandle.standardError.write(Data("xunfang situation hotspots: \(error)\n\(usage)\n".utf8))
            return 2
        }
    }

    struct UsageError: Error, CustomStringConvertible { let description: String }

    /// The command's whole output as text (table or JSON).
    public static func output(_ arguments: [String]) throws -> String {
        var options: [String: String] = [:]
        var flags: Set<String> = []
        var index = 0
        while index < arguments.count {
            let name = arguments[index]
            guard name.hasPrefix("--") else { throw UsageError(description: "unexpected \"\(name)\"") }
            if ["--row-standardize", "--json", "--planar"].contains(name) {
                flags.insert(name)
                index += 1
            } else {
                guard index + 1 < arguments.count else { throw UsageError(description: "\(name) needs a value") }
                options[name] = arguments[index + 1]
                index += 2
            }
        }
        let known: Set<String> = ["--polygons", "--value", "--weights", "--statistic", "--permutations", "--seed", "--alpha"]
        if let unknown = options.keys.first(where: { !known.contains($0) }) { throw UsageError(description: "unknown option \(unknown)") }
        guard let path = options["--polygons"], let field = options["--value"], let weightsSpec = options["--weights"],
              let statistic = options["--statistic"] else { throw UsageError(description: "--polygons, --value, --weights and --statistic are required") }
        let permutations = try integer(options["--permutations"] ?? "0", "--permutations", 0...99_999)
        let seed = UInt64(try integer(options["--seed"] ?? "1", "--seed", 0...Int.max))
        guard let alpha = Double(options["--alpha"] ?? "0.05"), alpha > 0, alpha < 1 else { throw UsageError(description: "--alpha must be in (0, 1)") }

        let features = try GeoJSON.read(path: path)
        var ids: [String] = [], values: [Double] = [], areas: [[[[GeoPoint]]]] = []
        for (position, feature) in features.enumerated() {
            let label = "feature \(position)\(feature.id.map { " (id \($0))" } ?? "")"
            guard case .number(let value) = feature.properties[field] else {
                throw GeoError(.invalidInput, "\(label): property \(field) is missing or not a number")
            }
            switch feature.geometry {
            case .polygon(let rings): areas.append([rings])
            case .multiPolygon(let polygons): areas.append(polygons)
            default: throw GeoError(.invalidInput, "\(label): needs a Polygon or MultiPolygon")
            }
            ids.append(feature.id ?? String(position))
            values.append(value)
        }
        guard values.count >= 3 else { throw GeoError(.invalidInput, "\(path): at least 3 polygons are needed, got \(values.count)") }
        let shapes = try planarShapes(areas, planar: flags.contains("--planar"))
        let centroids = shapes.map(\.centroid)
        let extent = shapes.dropFirst().reduce(shapes[0].bounds) { $0.union($1.bounds) }
        let tolerance = max(extent.maxX - extent.minX, extent.maxY - extent.minY) * 1e-9

        let weights: SpatialWeights
        switch weightsSpec {
        case "queen": weights = .contiguity(shapes, rook: false, tolerance: tolerance)
        case "rook": weights = .contiguity(shapes, rook: true, tolerance: tolerance)
        case let spec where spec.hasPrefix("knn:"):
            weights = .nearest(centroids, k: try integer(String(spec.dropFirst(4)), "knn:K", 1...(values.count - 1)))
        case let spec where spec.hasPrefix("distance:"):
            guard let band = Double(spec.dropFirst(9)), band > 0 else { throw UsageError(description: "distance:D needs a positive distance") }
            weights = .distanceBand(centroids, threshold: band)
        default:
            throw UsageError(description: "--weights must be queen, rook, knn:K or distance:D")
        }
        let isolated = weights.neighbors.indices.filter { weights.neighbors[$0].isEmpty }.map { ids[$0] }
        let used = flags.contains("--row-standardize") ? weights.rowStandardized() : weights
        let json = flags.contains("--json")

        switch statistic {
        case "moran":
            let result = SpatialStatistics.moran(values, weights: used)
            var object: [String: Any] = ["statistic": "moran", "I": result.i, "expected": result.expected, "variance": result.variance,
                                         "z": result.z, "p_normal": result.p, "n": values.count, "isolated": isolated]
            if permutations > 0 {
                object["p_sim"] = SpatialStatistics.globalMoranPermutationP(values, weights: used, permutations: permutations, seed: seed)
            }
            if json { return jsonText(object) }
            return String(format: "Moran's I %.6f  E[I] %.6f  Var %.6f  z %.4f  p %.4g", result.i, result.expected, result.variance, result.z, result.p)
                + (object["p_sim"].map { String(format: "  p_sim %.4g", $0 as! Double) } ?? "")
                + (isolated.isEmpty ? "" : "\n\(isolated.count) area(s) without neighbours: \(isolated.joined(separator: ","))")
        case "gi-star", "local-moran":
            let locals = statistic == "gi-star"
                ? SpatialStatistics.giStar(values, weights: weights, rowStandardize: flags.contains("--row-standardize"), permutations: permutations, seed: seed)
                : SpatialStatistics.localMoran(values, weights: used, permutations: permutations, seed: seed)
            let pValues = locals.map { $0.pSimulated ?? 2 * (1 - SpatialStatistics.normalCDF(abs($0.z))) }
            let significant = (statistic == "gi-star" || permutations > 0)
                ? SpatialStatistics.benjaminiHochberg(pValues, alpha: alpha) : [Bool](repeating: false, count: values.count)
            let mean = values.reduce(0, +) / Double(values.count)
            let lag = used.lag(values.map { $0 - mean })
            let rows: [[String: Any]] = values.indices.map { i in
                var row: [String: Any] = ["id": ids[i], "value": values[i], "significant": significant[i]]
                if statistic == "gi-star" {
                    row["z"] = locals[i].z
                    row["class"] = significant[i] ? (locals[i].z > 0 ? "hot" : "cold") : "not significant"
                } else {
                    row["I"] = locals[i].value
                    let high = values[i] >= mean, neighboursHigh = lag[i] >= 0
                    row["quadrant"] = high ? (neighboursHigh ? "HH" : "HL") : (neighboursHigh ? "LH" : "LL")
                }
                if let p = locals[i].pSimulated { row["p_sim"] = p } else if statistic == "gi-star" { row["p_normal"] = pValues[i] }
                return row
            }
            if json { return jsonText(["statistic": statistic, "areas": rows, "isolated": isolated] as [String: Any]) }
            var lines = ["id\tvalue\t\(statistic == "gi-star" ? "z" : "I")\tp\tresult"]
            for (i, row) in rows.enumerated() {
                let measure = statistic == "gi-star" ? locals[i].z : locals[i].value
                let result = (row["class"] ?? row["quadrant"]) as! String
                lines.append("\(ids[i])\t\(values[i])\t\(String(format: "%.4f", measure))\t\(String(format: "%.4g", pValues[i]))\t\(result)\(significant[i] ? " *" : "")")
            }
            return lines.joined(separator: "\n")
        default:
            throw UsageError(description: "--statistic must be gi-star, local-moran or moran")
        }
    }

    static func planarShapes(_ areas: [[[[GeoPoint]]]], planar: Bool) throws(GeoError) -> [MultiPolygon] {
        let origin = GeoPoint.middle(of: areas.flatMap { $0.flatMap { $0.flatMap { $0 } } }) ?? GeoPoint(longitude: 0, latitude: 0)
        let projection = LocalProjection(origin: origin)
        func convert(_ p: GeoPoint) -> PlanarPoint { planar ? PlanarPoint(x: p.longitude, y: p.latitude) : projection.project(p) }
        var shapes: [MultiPolygon] = []
        for polygons in areas { shapes.append(try MultiPolygon(rings: polygons, project: convert)) }
        return shapes
    }

    static func integer(_ text: String, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text), range.contains(value) else { throw UsageError(description: "\(name) must be a whole number in \(range)") }
        return value
    }

    static func jsonText(_ object: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

extension SpatialStatistics {
    /// Pseudo p-value of global Moran's I against `permutations` full shuffles of the values.
    public static func globalMoranPermutationP(_ values: [Double], weights: SpatialWeights, permutations: Int, seed: UInt64) -> Double {
        let observed = moran(values, weights: weights).i
        var random = SyntheticRoads.Generator(state: seed)
        var shuffled = values
        var larger = 0
        for _ in 0..<permutations {
            shuffled.shuffle(using: &random)
            if moran(shuffled, weights: weights).i >= observed { larger += 1 }
        }
        return Double(min(larger, permutations - larger) + 1) / Double(permutations + 1)
    }
}
