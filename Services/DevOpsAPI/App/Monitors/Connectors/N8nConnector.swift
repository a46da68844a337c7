import Foundation
import NIOHTTP1
import PlanKit
import ServiceKit

/// n8n's public API v1 (self-hosted or cloud; `base_url` is the instance root): executions by status, newest first,
/// read back to the window's start; the active workflows; and the insights summary where the licence allows it.
struct N8nConnector: MonitorConnector {
    let apiKey: String
    let baseURL: String
    /// The largest page n8n allows.
    static let pageSize = 250
    /// A bound on pages per status, so a runaway instance cannot keep one check busy for ever.
    let maxPages: Int

    init(_ target: IntegrationTarget) throws(FieldProblems) {
        apiKey = target.credential("api_key")
        baseURL = target.baseURL
        maxPages = try target.integer("max_pages", default: 200, in: 1...2_000)
    }

    var headers: HTTPHeaders { ["X-N8N-API-KEY": apiKey] }

    func check(using client: ProviderClient) async throws {
        _ = try await client.json(ProviderRequest(url: client.url("/api/v1/workflows?limit=1"), headers: headers), as: N8nPage<N8nWorkflow>.self)
    }

    func collect(_ window: CollectionWindow, using client: ProviderClient) async throws -> Collected {
        var finished: [N8nExecution] = []
        for status in ["success", "error", "crashed"] {
            finished += try await executions(status: status, since: window.start, using: client)
        }
        let waiting = try await executions(status: "waiting", since: nil, using: client)
        let workflows = try await pages(path: "/api/v1/workflows?active=true", using: client, as: N8nWorkflow.self) { _ in true }
        let insights = try await self.insights(window, using: client)
        return N8nMetrics.collected(executions: finished, waiting: waiting.count, activeWorkflows: workflows, insights: insights, window: window)
    }

    /// One status's executions, newest first, until one started before `since` (nil: all of them).
    func executions(status: String, since: Date?, using client: ProviderClient) async throws -> [N8nExecution] {
        try await pages(path: "/api/v1/executions?status=\(status)&includeData=false", using: client, as: N8nExecution.self) { page in
            guard let since else { return true }
            return !page.contains { ($0.startedAt ?? .distantFuture) < since }
        }
    }

    /// Follows `nextCursor` while `more(page)` says the next page is still wanted.
    func pages<Item: Decodable & Sendable>(
        path: String,
        using client: ProviderClient,
        as: Item.Type,
        more: ([Item]) -> Bool
    ) async throws -> [Item] {
        var items: [Item] = []
        var cursor: String?
        for _ in 0..<maxPages {
            var url = client.url(path) + (path.contains("?") ? "&" : "?") + "limit=\(Self.pageSize)"
            if let cursor { url += "&cursor=" + (cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? cursor) }
            let page = try await client.json(ProviderRequest(url: url, headers: headers), as: N8nPage<Item>.self)
            items += page.data
            guard let next = page.nextCursor, !next.isEmpty, more(page.data) else { break }
            cursor = next
        }
        return items
    }

    /// The insights summary over the window; nil where the instance's licence or version does not offer it (403/404).
    func insights(_ window: CollectionWindow, using client: ProviderClient) async throws -> N8nInsights? {
        let query = "startDate=\(N8nMetrics.iso(window.start))&endDate=\(N8nMetrics.iso(window.end))"
        let response = try await client.send(
            ProviderRequest(url: client.url("/api/v1/insights/summary?" + query), headers: headers, accepted: [403, 404])
        )
        guard response.status == 200 else { return nil }
        return try response.decode(N8nInsights.self)
    }
}

/// One page of an n8n list: `{data, nextCursor}`.
struct N8nPage<Item: Decodable>: Decodable {
    var data: [Item]
    var nextCursor: String?
}

/// An execution as `GET /api/v1/executions` lists it (without data). Ids are strings in current n8n and numbers
/// in older ones; `startedAt` is null while queued and `stoppedAt` while running.
struct N8nExecution: Decodable, Equatable, Sendable {
    var id: String
    var mode: String
    var status: String
    var workflowId: String
    var startedAt: Date?
    var stoppedAt: Date?

    enum CodingKeys: String, CodingKey { case id, mode, status, workflowId, startedAt, stoppedAt, finished }

    init(id: String, mode: String, status: String, workflowId: String, startedAt: Date?, stoppedAt: Date?) {
        self.id = id
        self.mode = mode
        self.status = status
        self.workflowId = workflowId
        self.startedAt = startedAt
        self.stoppedAt = stoppedAt
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIdentifier(.id)
        workflowId = try container.decodeIdentifier(.workflowId)
        mode = try container.decode(String.self, forKey: .mode)
        startedAt = try container.decodeIfPresent(Date.self, forKey: .startedAt)
        stoppedAt = try container.decodeIfPresent(Date.self, forKey: .stoppedAt)
        // Versions before `status` existed say only whether the run finished.
        if let status = try container.decodeIfPresent(String.self, forKey: .status) {
            self.status = status
        } else {
            self.status = try container.decodeIfPresent(Bool.self, forKey: .finished) == true ? "success" : "unknown"
        }
    }
}

struct N8nWorkflow: Decodable, Equatable, Sendable {
    var id: String
    var name: String
    var active: Bool

    enum CodingKeys: String, CodingKey { case id, name, active }

    init(id: String, name: String, active: Bool) {
        self.id = id
        self.name = name
        self.active = active
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIdentifier(.id)
        name = try container.decode(String.self, forKey: .name)
        active = try container.decodeIfPresent(Bool.self, forKey: .active) ?? false
    }
}

/// `GET /api/v1/insights/summary`: each figure is `{value, deviation, unit}`.
struct N8nInsights: Decodable, Equatable, Sendable {
    struct Figure: Decodable, Equatable, Sendable {
        var value: Decimal
        var deviation: Decimal?
        var unit: String
    }

    var total: Figure
    var failed: Figure
    var failureRate: Figure
    var timeSaved: Figure
    var averageRunTime: Figure
}

extension KeyedDecodingContainer {
    /// An id written as a string or as a number.
    fileprivate func decodeIdentifier(_ key: Key) throws -> String {
        if let text = try? decode(String.self, forKey: key) { return text }
        return String(try decode(Int64.self, forKey: key))
    }
}

/// n8n's numbers, from what the API listed. No I/O.
///
/// - success rate = success ÷ (success + error + crashed), over executions started in the window, manual runs left out
///   (someone trying a workflow in the editor is not production);
/// - mean duration = mean of `stoppedAt − startedAt` over the same executions that have both;
/// - failed = error + crashed; waiting = executions waiting now, whenever they started;
/// - per workflow: its executions, failures and error rate, worst first.
enum N8nMetrics {
    static let countedStatuses: Set<String> = ["success", "error", "crashed"]

    static func collected(
        executions: [N8nExecution],
        waiting: Int,
        activeWorkflows: [N8nWorkflow],
        insights: N8nInsights?,
        window: CollectionWindow
    ) -> Collected {
        struct Tally {
            var success = 0
            var failed = 0
            var finished = 0
            var durationMilliseconds: Int64 = 0
            var total: Int { success + failed }
        }
        struct BucketKey: Hashable {
            var hour: Date
            var workflow: String
        }
        var seen = Set<String>()
        var overall = Tally()
        var byWorkflow: [String: Tally] = [:]
        var buckets: [BucketKey: (Tally, crashed: Int)] = [:]
        for execution in executions where execution.mode != "manual" && countedStatuses.contains(execution.status) {
            guard let started = execution.startedAt, window.contains(started), seen.insert(execution.id).inserted else { continue }
            let key = BucketKey(hour: started.hourStart, workflow: execution.workflowId)
            func count(_ tally: inout Tally) {
                if execution.status == "success" { tally.success += 1 } else { tally.failed += 1 }
                if let stopped = execution.stoppedAt, stopped >= started {
                    tally.finished += 1
                    tally.durationMilliseconds += Int64((stopped.timeIntervalSince(started) * 1000).rounded())
                }
            }
            count(&overall)
            count(&byWorkflow[execution.workflowId, default: Tally()])
            count(&buckets[key, default: (Tally(), 0)].0)
            if execution.status == "crashed" { buckets[key]!.crashed += 1 }
        }

        var samples: [MetricSample] = []
        for (key, (tally, crashed)) in buckets {
            let dimensions = ["workflow_id": key.workflow]
            func counter(_ metric: String, _ value: Int64) {
                samples.append(MetricSample(metric: metric, dimensions: dimensions, bucketStart: key.hour, value: Decimal(value), kind: .counter))
            }
            counter("executions_success", Int64(tally.success))
            counter("executions_error", Int64(tally.failed - crashed))
            counter("executions_crashed", Int64(crashed))
            counter("executions_finished", Int64(tally.finished))
            counter("execution_duration_ms_total", tally.durationMilliseconds)
        }
        let now = window.end.hourStart
        samples.append(MetricSample(metric: "executions_waiting", bucketStart: now, value: Decimal(waiting), kind: .gauge))
        samples.append(MetricSample(metric: "workflows_active", bucketStart: now, value: Decimal(activeWorkflows.count), kind: .gauge))

        let names = Dictionary(activeWorkflows.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let worst = byWorkflow.sorted { left, right in
            let (l, r) = (left.value, right.value)
            // Error rate, compared without division: l.failed / l.total > r.failed / r.total.
            if l.failed * r.total != r.failed * l.total { return l.failed * r.total > r.failed * l.total }
            return left.key < right.key
        }
        var summary: [String: JSONValue] = [
            "executions": .number(Decimal(overall.total)),
            "success_rate": .ratio(overall.success, overall.total),
            "failed": .number(Decimal(overall.failed)),
            "mean_duration_ms": overall.finished == 0
                ? .null : .number((Decimal(overall.durationMilliseconds) / Decimal(overall.finished)).rounded(places: 0)),
            "waiting": .number(Decimal(waiting)),
            "active_workflows": .number(Decimal(activeWorkflows.count)),
            "workflows": .array(
                worst.prefix(20).map { id, tally in
                    [
                        "workflow_id": .string(id), "name": names[id].map(JSONValue.string) ?? .null,
                        "executions": .number(Decimal(tally.total)), "failed": .number(Decimal(tally.failed)),
                        "error_rate": .ratio(tally.failed, tally.total),
                    ]
                }
            ),
        ]
        if let insights {
            summary["insights"] = [
                "total": .number(insights.total.value), "failed": .number(insights.failed.value),
                "failure_rate": .number(insights.failureRate.value), "time_saved_minutes": .number(insights.timeSaved.value),
                "average_run_time_ms": .number(insights.averageRunTime.value),
            ]
        } else {
            summary["insights"] = .null
        }
        return Collected(samples: samples, summary: summary)
    }

    static func iso(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle()).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}
