import Foundation
import Synchronization
public import XunfangGeo
import XunfangPluginKit
import GridModelContract

/// Putting and removing areas and sites by id, as a pure function of the stored county.
public enum CountyEdit {
    /// The county after `put` (each record replaces the area or site with its id, or is
    /// added) and `remove` (ids that must exist). Parents are checked when the model is
    /// built from the result, not here.
    public static func apply(areas: [AreaRecord], sites: [SiteRecord], putAreas: [AreaRecord], putSites: [SiteRecord],
                      remove: [String]) throws(GeoError) -> (areas: [AreaRecord], sites: [SiteRecord]) {
        let removing = Set(remove)
        guard removing.count == remove.count else { throw GeoError(.invalidInput, "remove_ids: an id appears twice") }
        let putIDs = Set(putAreas.map(\.id) + putSites.map(\.id))
        guard putIDs.count == putAreas.count + putSites.count else { throw GeoError(.invalidInput, "features: an id appears twice") }
        if let both = removing.intersection(putIDs).min() { throw GeoError(.invalidInput, "\(both) is both put and removed") }
        let known = Set(areas.map(\.id) + sites.map(\.id))
        if let missing = removing.subtracting(known).min() { throw GeoError(.notFound, "remove_ids: no area or site \(missing)") }
        let replaced = removing.union(putIDs)
        return (areas.filter { !replaced.contains($0.id) } + putAreas, sites.filter { !replaced.contains($0.id) } + putSites)
    }
}

/// Applies `Edit` requests to the store and the model in service, one at a time.
final class CountyEditor: Sendable {
    static let maxFeatureBytes = 4 << 20
    static let maxRemovals = 10_000

    let store: GridStore
    let base: ModelBase
    let model: ModelHolder
    private let serial = Mutex(())

    init(store: GridStore, base: ModelBase, model: ModelHolder) {
        self.store = store
        self.base = base
        self.model = model
    }

    /// Stores the edited county and swaps it into service; returns the new model.
    /// Nothing is stored when any part is refused.
    func edit(_ request: Xunfang_GridModel_V1_EditRequest) throws -> CountyModel {
        guard request.featuresGeojson.utf8.count <= Self.maxFeatureBytes else {
            throw BusClientError(.invalidArgument, "features_geojson: \(request.featuresGeojson.utf8.count) bytes is more than \(Self.maxFeatureBytes)")
        }
        guard request.removeIds.count <= Self.maxRemovals else {
            throw BusClientError(.invalidArgument, "remove_ids: \(request.removeIds.count) is more than \(Self.maxRemovals)")
        }
        guard !request.featuresGeojson.isEmpty || !request.removeIds.isEmpty else {
            throw BusClientError(.invalidArgument, "an edit needs features_geojson or remove_ids")
        }
        let datum: Datum = switch request.datum {
        case .gcj02: .gcj02
        case .bd09: .bd09
        default: .wgs84
        }
        return try serial.withLock { _ in
            do {
                let features = request.featuresGeojson.isEmpty ? [] : try GeoJSON.parse(Data(request.featuresGeojson.utf8))
                let (putAreas, putSites) = try CountyGeoJSON.records(from: features, datum: datum)
                let current = try store.load() ?? GridStore.Snapshot(revision: 0, areas: [], sites: [])
                if request.expectedRevision != 0 && request.expectedRevision != current.revision {
                    throw BusClientError(.aborted, "the county is at revision \(current.revision), not \(request.expectedRevision): reload and edit again")
                }
                let (areas, sites) = try CountyEdit.apply(areas: current.areas, sites: current.sites, putAreas: putAreas, putSites: putSites,
                                                          remove: request.removeIds)
                // Built before storing: an edit that breaks the hierarchy is refused whole.
                let checked = try base.model(GridStore.Snapshot(revision: current.revision + 1, areas: areas, sites: sites))
                let revision = try store.replace(areas: areas, sites: sites, reason: "edit")
                let stored = revision == checked.revision
                    ? checked
                    : try base.model(GridStore.Snapshot(revision: revision, areas: areas, sites: sites))
                model.replace(stored)
                return stored
            } catch let error as GeoError {
                throw BusClientError(error)
            }
        }
    }
}

extension BusClientError {
    /// The wire status for a geographic error.
    init(_ error: GeoError) {
        switch error.code {
        case .invalidInput, .invalidGraph, .unsupportedFeature: self.init(.invalidArgument, error.message)
        case .notFound: self.init(.notFound, error.message)
        case .unreadableFile: self.init(.failedPrecondition, error.message)
        case .busy: self.init(.resourceExhausted, error.message)
        }
    }
}
