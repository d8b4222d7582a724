import Foundation
import XunfangPluginKit
import CommunityPolicingContract

/// The duty ledgers the rules are checked from, as CSV like the base ledgers:
///
///     id,kind,name,station_id,grid_id,officer_id
///     P-0101,village-police,李建华,510000-01-01,510000-01-01-03,PO-0101
///     R-01,police-room,城关一社区警务室,510000-01-01,510000-01-01-01,
///     P-01,station-chief,王志强,510000-01-01,,PO-0001
///
///     officer_id,place_id,start,end
///     PO-0101,510000-01-01-03,2026-11-30 08:30,2026-11-30 17:30
///
/// A village officer's record names the grid; a room's, the room's id. Times are China
/// time; a record is at most 24 hours. Records must name posts already imported.
extension Ledger {
    static let dutyPostHeader = "id,kind,name,station_id,grid_id,officer_id"
    static let dutyRecordHeader = "officer_id,place_id,start,end"
    static let maxDutyPosts = 20_000
    static let maxDutyRecords = 100_000
    static let postKinds: [String: Xunfang_Community_V1_DutyPostKind] = ["village-police": .villagePolice, "station-chief": .stationChief, "police-room": .policeRoom]

    /// A parse's bad lines (none when it passed).
    static func rejected<Rows>(_ result: Result<Rows, Rejection>) -> [LineError] {
        if case .failure(let rejection) = result { return rejection.errors }
        return []
    }

    static func dutyPosts(csv: String, maxBytes: Int = maxCSVBytes) -> Result<[Xunfang_Community_V1_DutyPost], Rejection> {
        var posts: [Xunfang_Community_V1_DutyPost] = [], seen: Set<String> = []
        let errors = rows(csv, header: dutyPostHeader, fields: 6, limit: maxDutyPosts, maxBytes: maxBytes) { fields in
            var post = Xunfang_Community_V1_DutyPost()
            post.id = try identifier(fields[0], "id")
            guard seen.insert(post.id).inserted else { throw LineFault("post \(post.id) appears twice") }
            post.kind = try named(fields[1], in: postKinds, "kind")
            guard (1...64).contains(fields[2].count) else { throw LineFault("name must be 1 to 64 characters") }
            post.name = fields[2]
            post.stationID = try identifier(fields[3], "station_id")
            switch post.kind {
            case .villagePolice:
                post.gridID = try identifier(fields[4], "grid_id (the officer's village)")
                post.officerID = try identifier(fields[5], "officer_id")
            case .stationChief:
                guard fields[4].isEmpty else { throw LineFault("a station chief has no grid_id: the station's rooms count") }
                post.officerID = try identifier(fields[5], "officer_id")
            default:
                post.gridID = try identifier(fields[4], "grid_id (where the room is)")
                guard fields[5].isEmpty else { throw LineFault("a police room has no officer_id: its duty records name who was there") }
            }
            posts.append(post)
        }
        return errors.isEmpty ? .success(posts) : .failure(Rejection(errors: errors))
    }

    /// Records at `places` (villages of village posts, police rooms' ids).
    static func dutyRecords(csv: String, places: Set<String>, maxBytes: Int = maxCSVBytes) -> Result<[Xunfang_Community_V1_DutyRecord], Rejection> {
        var records: [Xunfang_Community_V1_DutyRecord] = []
        let errors = rows(csv, header: dutyRecordHeader, fields: 4, limit: maxDutyRecords, maxBytes: maxBytes) { fields in
            var record = Xunfang_Community_V1_DutyRecord()
            record.officerID = try identifier(fields[0], "officer_id")
            record.placeID = try identifier(fields[1], "place_id")
            guard places.contains(record.placeID) else { throw LineFault("place \(record.placeID) is neither a police room nor a village in the duty posts ledger") }
            guard let start = ChinaTime.parse(fields[2]) else { throw LineFault("start \"\(fields[2])\" must be YYYY-MM-DD HH:MM, China time") }
            guard let end = ChinaTime.parse(fields[3]) else { throw LineFault("end \"\(fields[3])\" must be YYYY-MM-DD HH:MM, China time") }
            guard end > start, end - start <= ChinaTime.day else { throw LineFault("end must be after start, at most 24 hours later") }
            record.start = start
            record.end = end
            records.append(record)
        }
        return errors.isEmpty ? .success(records) : .failure(Rejection(errors: errors))
    }
}
