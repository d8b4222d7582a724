public import CheckpointControlContract
import Foundation
import Logging
public import XunfangPluginKit

/// The city's side of a city-wide seal (issue 19): a city plan names the counties that
/// take part. Activating it at the city publishes the city's board on `checkpoint.seal`,
/// which the bridge carries to each county (where `CityOrders` activates the county's own
/// plan); each county's board comes back the same way, and the city's board shows one
/// position per county, in position when that county reports sealed.
public struct CitySeals: Sendable, Equatable {
    /// City plan id → the counties (their tokens in the bridge's subjects), in order.
    public let plans: [String: [String]]
    /// Each county's seal within this of the city's activation: the documents' 3 minutes,
    /// plus the time orders and boards take across the bridge.
    public let targetSeconds: Int32

    public init(plans: [String: [String]], targetSeconds: Int32 = 240) {
        self.plans = plans
        self.targetSeconds = targetSeconds
    }

    /// `CHECKPOINT_CITY_SEALS`: `plan:county+county+...,plan:...`; nil when unset.
    public init?(settings: [String: String]) throws(SettingError) {
        let text = settings["CHECKPOINT_CITY_SEALS"]?.trimmingCharacters(in: .whitespaces) ?? ""
        if text.isEmpty { return nil }
        var plans: [String: [String]] = [:]
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let counties = parts.count == 2 ? parts[1].split(separator: "+").map { $0.trimmingCharacters(in: .whitespaces) } : []
            guard parts.count == 2, Self.isToken(parts[0]), plans[parts[0]] == nil, !counties.isEmpty, counties.allSatisfy(Self.isToken),
                  Set(counties).count == counties.count else {
                throw SettingError("CHECKPOINT_CITY_SEALS: \"\(entry)\" is not plan:county+county (each plan once, each county once in it; "
                                   + "letters, digits, - and _)")
            }
            plans[parts[0]] = counties
        }
        self.init(plans: plans)
    }

    private static func isToken(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }

    /// A city plan as a seal plan: one position per county.
    func plan(_ id: String) -> Xunfang_Checkpoint_V1_SealPlan? {
        guard let counties = plans[id] else { return nil }
        return .with {
            $0.id = id
            $0.name = "全市关城门 \(id)"
            $0.scope = .city
            $0.targetSeconds = targetSeconds
            $0.positions = counties.map { county in .with { $0.id = county; $0.name = county } }
        }
    }

    var allPlans: [Xunfang_Checkpoint_V1_SealPlan] { plans.keys.sorted().compactMap(plan) }

    /// The city's board at activation: each county ordered (by the board itself, which the
    /// bridge carries; no per-county order topic), due `targetSeconds` after `base.activatedAt`.
    static func activate(_ base: SealActivation, counties: [String]) -> SealActivation {
        var activation = base
        activation.state = .sealing
        activation.timeline.append(.with { $0.at = base.activatedAt; $0.kind = "activated"; $0.detail = base.drill ? "drill" : base.reason })
        for county in counties {
            activation.positions.append(.with {
                $0.id = county
                $0.name = county
                $0.responder = county
                $0.orderedAt = base.activatedAt
                $0.deadline = base.activatedAt + Int64(base.targetSeconds) * 1_000
                $0.state = .ordered
            })
            activation.timeline.append(.with { $0.at = base.activatedAt; $0.kind = "ordered"; $0.position = county; $0.responder = county })
        }
        return activation
    }

    /// The city activation a county's board answers: its reason starts with `CityOrders.marker`.
    static func cityActivation(answeredBy board: Xunfang_Checkpoint_V1_SealActivation) -> String? {
        guard board.reason.hasPrefix(CityOrders.markerPrefix) else { return nil }
        let rest = board.reason.dropFirst(CityOrders.markerPrefix.count)
        guard let colon = rest.firstIndex(of: ":"), colon > rest.startIndex else { return nil }
        return String(rest[..<colon])
    }

    /// Follows the counties' boards until cancelled (durable when the city's bus keeps
    /// `checkpoint.seal`, so a board that came while this plugin was down still counts).
    func follow(on bus: BusClient, seals: SealDesk, logger: Logger) async throws {
        let counties = Set(plans.values.joined())
        let subscription = try await CityOrders.sealBoards(on: bus, durable: "checkpoint-county-boards", missed: "a county's board", logger: logger)
        for await delivery in subscription {
            defer { delivery.ack() }
            guard let county = delivery.headers["xunfang-origin-county"], counties.contains(county),
                  let board = try? delivery.decode(Xunfang_Checkpoint_V1_SealActivation.self),
                  let cityActivation = Self.cityActivation(answeredBy: board) else { continue }
            do {
                try seals.countyReported(board, county: county, cityActivation: cityActivation)
            } catch {
                logger.error("a county's seal board could not be recorded", metadata: ["xunfang.county": "\(county)", "xunfang.error": "\(error)"])
            }
        }
    }
}
