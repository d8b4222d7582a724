/// What replacing the stored county with an import would change, by id: the summary an
/// import prints, and the share of removals that makes it ask for `--replace`.
public struct ImportDiff: Sendable, Equatable {
    public struct Counts: Sendable, Equatable {
        public var added = 0, removed = 0, changed = 0, unchanged = 0
        /// How much of what is stored now would go.
        public var removedShare: Double { removed + changed + unchanged == 0 ? 0 : Double(removed) / Double(removed + changed + unchanged) }
    }

    public var areas = Counts()
    public var sites = Counts()
    /// A few of the removed ids, for the message.
    public var removedExamples: [String] = []

    public init(from old: GridStore.Snapshot?, to areas: [AreaRecord], _ sites: [SiteRecord]) {
        self.areas = Self.compare(old?.areas ?? [], areas, id: \.id, examples: &removedExamples)
        self.sites = Self.compare(old?.sites ?? [], sites, id: \.id, examples: &removedExamples)
    }

    private static func compare<Record: Equatable>(_ old: [Record], _ new: [Record], id: KeyPath<Record, String>,
                                                   examples: inout [String]) -> Counts {
        let before = Dictionary(old.map { ($0[keyPath: id], $0) }, uniquingKeysWith: { first, _ in first })
        let after = Set(new.map { $0[keyPath: id] })
        var counts = Counts()
        for record in new {
            switch before[record[keyPath: id]] {
            case nil: counts.added += 1
            case let previous? where previous == record: counts.unchanged += 1
            case _?: counts.changed += 1
            }
        }
        for key in before.keys.sorted() where !after.contains(key) {
            counts.removed += 1
            if examples.count < 5 { examples.append(key) }
        }
        return counts
    }

    /// The larger of the two removal shares: what `--replace` is measured against.
    public var removedShare: Double { max(areas.removedShare, sites.removedShare) }

    public var summary: String {
        func line(_ name: String, _ counts: Counts) -> String {
            "\(name): \(counts.added) added, \(counts.changed) changed, \(counts.removed) removed, \(counts.unchanged) unchanged"
        }
        var text = line("areas", areas) + "\n" + line("sites", sites)
        if !removedExamples.isEmpty { text += "\nremoved: \(removedExamples.joined(separator: ", "))\(areas.removed + sites.removed > removedExamples.count ? ", ..." : "")" }
        return text
    }
}
