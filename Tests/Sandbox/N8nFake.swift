import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit
import Synchronization

/// n8n's public API v1 as an instance answers it: `X-N8N-API-KEY`, executions newest first (by id) filtered by
/// `status`, `limit` up to 250 with an opaque `nextCursor`, workflows filtered by `active`, and the insights summary
/// (403 where the licence lacks it). Each API key is its own instance, so a test can watch several.
public final class N8nFake: Sendable {
    public struct Execution: Sendable, Equatable {
        public var id: Int
        public var workflowID: String
        /// `trigger`, `webhook`, `manual`, `retry`, …
        public var mode: String
        /// `success`, `error`, `crashed`, `waiting`, `running`, …
        public var status: String
        public var startedAt: Date?
        public var stoppedAt: Date?
    }

    public struct Workflow: Sendable, Equatable {
        public var id: String
        public var name: String
        public var active: Bool
    }

    public struct Instance: Sendable {
        public var executions: [Execution]
        public var workflows: [Workflow]
        public var insightsLicensed: Bool

        /// `executions` runs of `workflows` workflows over the `hours` before `now`, with every status and mode n8n
        /// has, the same for the same seed.
        public static func generate(workflows: Int, executions: Int, hours: Int, now: Date, seed: UInt64) -> Instance {
            var random = SeededRandom(seed: seed)
            let flows = (0..<workflows).map { index in
                Workflow(id: "wf\(seed)x\(index)", name: "Workflow \(index + 1)", active: index % 5 != 4)
            }
            let statuses = ["success", "success", "success", "success", "success", "success", "error", "error", "crashed", "waiting", "running"]
            let modes = ["trigger", "trigger", "webhook", "webhook", "manual", "retry"]
            let span = hours * 3600
            let runs = (0..<executions).map { index -> Execution in
                let status = statuses[random.next(statuses.count)]
                // Oldest first, so ids grow with start time as n8n's do: jitter stays within half the spacing.
                let spacing = Double(span) / Double(max(executions, 1))
                let started = now.addingTimeInterval(-Double(span) + spacing * Double(index) + Double(random.next(max(Int(spacing / 2), 1))))
                let stopped: Date? =
                    ["running", "waiting"].contains(status) ? nil : started.addingTimeInterval(Double(200 + random.next(20_000)) / 1000)
                return Execution(
                    id: 1_000 + index,
                    workflowID: flows[random.next(flows.count)].id,
                    mode: modes[random.next(modes.count)],
                    status: status,
                    startedAt: started,
                    stoppedAt: stopped
                )
            }
            return Instance(executions: runs, workflows: flows, insightsLicensed: true)
        }
    }

    private let instances = Mutex([String: Instance]())

    init() {}

    public func setInstance(apiKey: String, _ instance: Instance) { instances.withLock { $0[apiKey] = instance } }
    public func instance(apiKey: String) -> Instance? { instances.withLock { $0[apiKey] } }

    static let pageLimit = 250

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/api/v1/executions") { request, _ in
            try self.answer(request) { instance, query in
                let status = query["status"]
                let items = instance.executions.filter { status == nil || $0.status == status }.sorted { $0.id > $1.id }
                return try Self.page(items.map(Self.json), ids: items.map(\.id), query: query)
            }
        }
        router.get("/api/v1/workflows") { request, _ in
            try self.answer(request) { instance, query in
                let active = query["active"].map { $0 == "true" }
                let items = instance.workflows.enumerated().filter { active == nil || $0.element.active == active }
                return try Self.page(items.map { Self.json($0.element) }, ids: items.map { -$0.offset }, query: query)
            }
        }
        router.get("/api/v1/insights/summary") { request, _ in
            try self.answer(request) { instance, query in
                guard instance.insightsLicensed else {
                    return try jsonResponse(["message": "Plan lacks license for this feature"], status: .forbidden)
                }
                let start = query["startDate"].flatMap(ProviderDates.parse) ?? Date().addingTimeInterval(-7 * 86_400)
                let end = query["endDate"].flatMap(ProviderDates.parse) ?? Date()
                let counted = instance.executions.filter {
                    guard let started = $0.startedAt else { return false }
                    return started >= start && started < end && $0.mode != "manual" && ["success", "error", "crashed"].contains($0.status)
                }
                let failed = counted.filter { $0.status != "success" }.count
                let durations = counted.compactMap { run in run.stoppedAt.map { $0.timeIntervalSince(run.startedAt!) * 1000 } }
                func figure(_ value: Double, _ unit: String) -> [String: Any] { ["value": value, "deviation": NSNull(), "unit": unit] }
                let body: [String: Any] = [
                    "total": figure(Double(counted.count), "count"),
                    "failed": figure(Double(failed), "count"),
                    "failureRate": figure(counted.isEmpty ? 0 : Double(failed) / Double(counted.count), "ratio"),
                    "timeSaved": figure(0, "minute"),
                    "averageRunTime": figure(durations.isEmpty ? 0 : durations.reduce(0, +) / Double(durations.count), "millisecond"),
                ]
                return try jsonObjectResponse(body)
            }
        }
    }

    /// Checks the key as n8n does, then answers from its instance.
    private func answer(_ request: Request, _ body: (Instance, [String: String]) throws -> Response) throws -> Response {
        guard let key = request.headers[HTTPField.Name("X-N8N-API-KEY")!] else {
            return try jsonResponse(["message": "'X-N8N-API-KEY' header required"], status: .unauthorized)
        }
        guard let instance = instance(apiKey: key) else { return try jsonResponse(["message": "unauthorized"], status: .unauthorized) }
        return try body(instance, request.queryValues)
    }

    /// One page after the cursor's last id; the cursor is opaque to clients, as n8n's base64 JSON is.
    private static func page(_ items: [[String: Any]], ids: [Int], query: [String: String]) throws -> Response {
        let limit = Int(query["limit"] ?? "100") ?? 100
        guard (1...pageLimit).contains(limit) else {
            return try jsonResponse(["message": "request/query/limit must be <= \(pageLimit)"], status: .badRequest)
        }
        var start = 0
        if let cursor = query["cursor"] {
            guard let data = Data(base64Encoded: cursor), let last = Int(String(decoding: data, as: UTF8.self)),
                let index = ids.firstIndex(of: last)
            else {
                return try jsonResponse(["message": "An invalid cursor was provided"], status: .badRequest)
            }
            start = index + 1
        }
        let end = min(start + limit, items.count)
        let next: Any = end < items.count ? Data(String(ids[end - 1]).utf8).base64EncodedString() : NSNull()
        let body: [String: Any] = ["data": Array(items[start..<end]), "nextCursor": next]
        return try jsonObjectResponse(body)
    }

    static func json(_ run: Execution) -> [String: Any] {
        [
            "id": String(run.id), "finished": run.status == "success", "mode": run.mode, "retryOf": NSNull(), "retrySuccessId": NSNull(),
            "startedAt": run.startedAt.map(ProviderDates.format) ?? NSNull(), "stoppedAt": run.stoppedAt.map(ProviderDates.format) ?? NSNull(),
            "workflowId": run.workflowID, "waitTill": NSNull(), "customData": [String: Any](), "status": run.status,
        ]
    }

    static func json(_ flow: Workflow) -> [String: Any] {
        [
            "id": flow.id, "name": flow.name, "active": flow.active, "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:00:00.000Z", "nodes": [Any](), "connections": [String: Any](), "settings": [String: Any](), "tags": [Any](),
        ]
    }
}

/// ISO-8601 with milliseconds, as n8n and most providers write it.
enum ProviderDates {
    static func format(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }

    static func parse(_ text: String) -> Date? {
        Date(iso8601: text)
    }
}
