import Foundation
import SituationAnalysisPlugin
import Testing
import XunfangGeo
import XunfangPluginKit

@Suite("The demo county's incident history")
struct DemoIncidentsTests {
    static let model = DemoIncidents()
    static let end = ChinaTime.dayNumber(label: "2026-11-30")!
    static let days: ClosedRange<Int64> = end - 399...end
    static let records = model.incidents(days: days)

    @Test("every incident is inside the county, off its edge: Dispatch refuses a call from over the border")
    func insideTheCounty() {
        let parameters = SyntheticRoads.Parameters.demoCounty
        let projection = LocalProjection(origin: parameters.origin)
        let outside = Self.records.filter { record in
            let point = projection.project(GeoPoint(longitude: record.longitude, latitude: record.latitude))
            return abs(point.x) >= parameters.sideMetres / 2 - 100 || abs(point.y) >= parameters.sideMetres / 2 - 100
        }
        #expect(outside.isEmpty, "\(outside.count) of \(Self.records.count), e.g. \(outside.prefix(3).map { "\($0.id) \($0.longitude),\($0.latitude)" })")
    }

    @Test("each type's count over 400 days is its rate plus its hot spots' (within 4 standard deviations and the season's 1%)")
    func rates() {
        let count = Double(Self.days.count)
        var counts: [String: Double] = [:]
        for record in Self.records { counts[record.type, default: 0] += 1 }
        for rate in DemoIncidents.rates {
            var expected = rate.perDay * count
            for spot in Self.model.hotSpots {
                let share = spot.everyThirdDay != nil ? 1.0 / 3 : 1
                expected += (spot.perDay[rate.type] ?? 0) * (spot.lastDays.map(Double.init) ?? count * share)
            }
            let observed = counts[rate.type] ?? 0
            #expect(abs(observed - expected) <= 4 * expected.squareRoot() + 0.01 * expected, "\(rate.type): \(observed) against \(expected)")
        }
        let perDay = Double(Self.records.count) / count
        #expect(perDay > DemoIncidents.meanPerDay && perDay < DemoIncidents.meanPerDay * 1.15, "\(perDay) a day")
    }

    @Test("night types peak after dark, day types in working hours, and the weekend is busier than midweek")
    func times() {
        func share(_ types: Set<String>, hours: Set<Int>) -> Double {
            let chosen = Self.records.filter { types.contains($0.type) }
            return Double(chosen.count { hours.contains(ChinaTime.hour($0.at)) }) / Double(chosen.count)
        }
        let night = Set(DemoIncidents.rates.filter(\.night).map(\.type)), day = Set(DemoIncidents.rates.filter { !$0.night }.map(\.type))
        #expect(share(night, hours: [20, 21, 22, 23, 0, 1]) > 0.4)
        #expect(share(day, hours: Set(8...17)) > 0.5)
        let byWeekday = Dictionary(grouping: Self.records, by: { ChinaTime.weekday($0.at) }).mapValues(\.count)
        #expect(byWeekday[6]! > byWeekday[2]! * 110 / 100, "Saturday \(byWeekday[6]!), Tuesday \(byWeekday[2]!)")
    }

    @Test("places follow the residents: the core's share is its weighted population's, every point is on a road")
    func places() throws {
        let projection = LocalProjection(origin: SyntheticRoads.Parameters.demoCounty.origin)
        let points = Self.records.map { projection.project(GeoPoint(longitude: $0.longitude, latitude: $0.latitude)) }
        let coreHalf = SyntheticRoads.Parameters.demoCounty.coreSideMetres / 2
        let inCore = Double(points.count { abs($0.x) <= coreHalf && abs($0.y) <= coreHalf }) / Double(points.count)
        let weights = Self.model.zones.map { $0.residents * $0.perResident }
        let expected = weights[0] / weights.reduce(0, +)
        // The core also holds the night market and the burglary run: a little above its share.
        #expect(inCore > expected && inCore < expected + 0.05, "core \(inCore), residents' share \(expected)")

        let roads = SyntheticRoads.county(.demoCounty)
        let roadPoints = roads.coordinates.map(projection.project)
        for point in points.enumerated().filter({ $0.offset % 97 == 0 }).map(\.element) {
            var nearest = Double.infinity
            for node in 0..<roads.nodeCount {
                for arc in Int(roads.arcStart[node])..<Int(roads.arcStart[node + 1]) {
                    nearest = min(nearest, point.distance(toSegment: roadPoints[node], roadPoints[Int(roads.arcHead[arc])]))
                }
            }
            #expect(nearest < 0.5, "\(point) is \(nearest) m from the nearest road")
        }
    }

    @Test("the last three days carry a burglary run in the town's south-west quarter")
    func burglaryRun() {
        let projection = LocalProjection(origin: SyntheticRoads.Parameters.demoCounty.origin)
        func thefts(_ day: Int64) -> Int {
            Self.records.filter {
                let point = projection.project(GeoPoint(longitude: $0.longitude, latitude: $0.latitude))
                return ChinaTime.dayNumber($0.at) == day && $0.type == "theft" && point.distance(to: PlanarPoint(x: -1_200, y: -1_100)) < 400
            }.count
        }
        let before = (Self.end - 60...Self.end - 3).map(thefts)
        let run = (Self.end - 2...Self.end).map(thefts)
        #expect(before.max()! < run.min()!, "before \(before.max()!), during \(run)")
    }

    @Test("the same seed gives the same history, another seed another; ids are unique per day")
    func deterministic() {
        let days = Self.end - 6...Self.end
        #expect(Self.model.incidents(days: days) == Self.model.incidents(days: days))
        #expect(Self.model.incidents(days: days) != Self.model.incidents(days: days, seed: 7))
        #expect(Set(Self.records.map(\.id)).count == Self.records.count)
        #expect(Self.records.allSatisfy { Self.days.contains(ChinaTime.dayNumber($0.at)) })
    }

    @Test("the CSV reads back through the import unchanged (positions to a decimetre)")
    func csvRoundTrip() throws {
        let records = Self.model.incidents(days: Self.end - 2...Self.end)
        let read = try ImportCommand.parse(csv: DemoIncidents.csv(records))
        #expect(read.count == records.count)
        for (back, record) in zip(read, records) {
            #expect(back.id == record.id && back.at == record.at && back.type == record.type && back.placeType == record.placeType)
            #expect(abs(back.longitude - record.longitude) < 1e-6 && abs(back.latitude - record.latitude) < 1e-6)
        }
    }
}
