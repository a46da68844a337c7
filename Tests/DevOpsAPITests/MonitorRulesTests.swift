import Foundation
import NIOHTTP1
import PlanKit
import ServiceKit
import Testing

@testable import DevOpsAPI

/// The monitors' pure parts: health and incidents, the retry schedule, rate-limit headers, each provider's numbers
/// from its documented payloads, and the integration fields.
@Suite struct MonitorRulesTests {
    let start = Date(timeIntervalSince1970: 1_796_083_200)  // 2026-12-01T00:00:00Z

    @Test func threeFailuresOpenAnIncidentAndTwoSuccessesResolveIt() {
        var record = HealthRecord(since: start)
        var opened: [Int] = []
        var resolved: [Int] = []
        let outcomes: [CheckOutcome] = [.ok, .failed, .failed, .rateLimited, .failed, .failed, .ok, .failed, .ok, .ok, .ok]
        var states: [HealthState] = []
        for (index, outcome) in outcomes.enumerated() {
            let transition = HealthRules.apply(outcome, to: record, at: start.addingTimeInterval(Double(index)))
            if transition.opensIncident { opened.append(index) }
            if transition.resolvesIncident { resolved.append(index) }
            record = transition.record
            states.append(record.state)
        }
        // The rate-limited check neither counts as a failure nor breaks the run of them.
        #expect(opened == [4])
        #expect(resolved == [9], "a success, a failure and two successes: the two in a row resolve it")
        #expect(
            states == [.healthy, .degraded, .degraded, .degraded, .unhealthy, .unhealthy, .degraded, .unhealthy, .degraded, .healthy, .healthy]
        )
    }

    @Test func refusedCredentialsOpenAnIncidentAtOnce() {
        let transition = HealthRules.apply(.authFailed, to: HealthRecord(state: .healthy, since: start), at: start.addingTimeInterval(5))
        #expect(transition.opensIncident)
        #expect(transition.record.state == .unhealthy)
        #expect(transition.record.since == start.addingTimeInterval(5))
        #expect(transition.stateChanged)
    }

    @Test func retriesBackOffHonourRetryAfterAndStopAtFiveTries() {
        func step(_ status: Int?, retryAfter: Duration? = nil, attempt: Int = 0, random: Double = 1) -> ProviderRetry.Step {
            ProviderRetry.step(status: status, retryAfter: retryAfter, message: "m", attempt: attempt, accepted: [404], unitRandom: random)
        }
        #expect(step(200) == .done)
        #expect(step(404) == .done, "a status the connector handles itself")
        #expect(step(401) == .fail(.authFailed(status: 401, message: "m")))
        #expect(step(403) == .fail(.authFailed(status: 403, message: "m")))
        #expect(step(400) == .fail(.invalidResponse(status: 400, message: "m")))
        #expect(step(500, attempt: 0) == .retry(after: .seconds(1)))
        #expect(step(500, attempt: 3) == .retry(after: .seconds(8)))
        #expect(step(nil, attempt: 3, random: 0.5) == .retry(after: .seconds(4)), "full jitter: anywhere under the ceiling")
        #expect(step(500, attempt: 4) == .fail(.unavailable(status: 500, message: "m")), "the fifth try is the last")
        #expect(step(429, retryAfter: .seconds(7), random: 0) == .retry(after: .seconds(7)), "Retry-After is the least wait")
        #expect(step(429, retryAfter: .seconds(120)) == .fail(.rateLimited(retryAfter: .seconds(120))), "longer than the cap: come back later")
        #expect(step(429, attempt: 4) == .fail(.rateLimited(retryAfter: nil)))
    }

    @Test func retryAfterAndRateLimitHeadersAreRead() {
        let now = start
        #expect(ProviderRetry.retryAfter("12", now: now) == .seconds(12))
        #expect(ProviderRetry.retryAfter("Tue, 01 Dec 2026 00:00:30 GMT", now: now) == .seconds(30))
        #expect(ProviderRetry.retryAfter("soon", now: now) == nil)
        // DigitalOcean: a Unix time; the IETF draft: seconds from now.
        let spent = RateLimitState(headers: ["ratelimit-remaining": "0", "ratelimit-reset": "\(Int(now.timeIntervalSince1970) + 20)"], now: now)
        #expect(spent.wait(now: now) == .seconds(20))
        let draft = RateLimitState(headers: ["X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"], now: now)
        #expect(draft.wait(now: now) == .seconds(3))
        #expect(RateLimitState(headers: ["ratelimit-remaining": "4", "ratelimit-reset": "30"], now: now).wait(now: now) == nil)
    }

    /// Executions as n8n's public API lists them: string ids (numbers in older versions), null `stoppedAt` while running.
    @Test func n8nNumbersFollowTheirDefinitions() throws {
        let json = """
            {"data":[
              {"id":"10","finished":true,"mode":"trigger","retryOf":null,"retrySuccessId":null,"startedAt":"2026-12-01T10:00:00.000Z",
               "stoppedAt":"2026-12-01T10:00:01.500Z","workflowId":"wA","waitTill":null,"customData":{},"status":"success"},
              {"id":9,"finished":false,"mode":"webhook","startedAt":"2026-12-01T10:30:00.000Z","stoppedAt":"2026-12-01T10:30:00.500Z",
               "workflowId":7,"status":"error"},
              {"id":"8","finished":false,"mode":"trigger","startedAt":"2026-12-01T11:05:00Z","stoppedAt":null,"workflowId":"wA","status":"crashed"},
              {"id":"7","finished":true,"mode":"manual","startedAt":"2026-12-01T11:10:00.000Z","stoppedAt":"2026-12-01T11:10:09.000Z",
               "workflowId":"wA","status":"error"},
              {"id":"6","finished":true,"mode":"trigger","startedAt":"2026-11-30T23:59:59.000Z","stoppedAt":"2026-12-01T00:00:01.000Z",
               "workflowId":"wA","status":"error"}
            ],"nextCursor":null}
            """
        let page = try ProviderJSON.decoder.decode(N8nPage<N8nExecution>.self, from: Data(json.utf8))
        #expect(page.data[1].id == "9" && page.data[1].workflowId == "7")
        let window = CollectionWindow(start: start, end: start.addingTimeInterval(86_400))
        let collected = N8nMetrics.collected(
            executions: page.data,
            waiting: 4,
            activeWorkflows: [N8nWorkflow(id: "wA", name: "Orders", active: true)],
            insights: nil,
            window: window
        )
        // Counted: 10 (success), 9 (error), 8 (crashed); 7 is manual and 6 started before the window.
        #expect(collected.summary["executions"] == .number(3))
        #expect(collected.summary["success_rate"] == JSONValue.ratio(1, 3))
        #expect(collected.summary["failed"] == .number(2))
        #expect(collected.summary["mean_duration_ms"] == .number(1_000), "(1,500 + 500) ÷ 2: the crashed one has no stop")
        #expect(collected.summary["waiting"] == .number(4))
        let worst = collected.summary["workflows"]?.items ?? []
        #expect(worst.first?["workflow_id"] == "7", "an error rate of 1 comes before 0.5")
        #expect(worst.last?["error_rate"] == JSONValue.ratio(1, 2))
        let tenOClock = collected.samples.filter { $0.bucketStart == start.addingTimeInterval(10 * 3600) && $0.dimensions["workflow_id"] == "wA" }
        #expect(tenOClock.first { $0.metric == "executions_success" }?.value == 1)
        #expect(tenOClock.first { $0.metric == "execution_duration_ms_total" }?.value == 1_500)
    }

    /// A CPU matrix shaped as DigitalOcean's monitoring API answers it: cumulative seconds per mode.
    @Test func digitalOceanCPUIsTheBusyShareOfTheCounterIncreases() throws {
        let json = """
            {"status":"success","data":{"resultType":"matrix","result":[
              {"metric":{"host_id":"289110074","mode":"idle"},"values":[[1796083320,"122901.18"],[1796083440,"123020.92"],[1796083560,"123140.8"]]},
              {"metric":{"host_id":"289110074","mode":"iowait"},"values":[[1796083320,"14.99"],[1796083440,"15.01"],[1796083560,"15.01"]]},
              {"metric":{"host_id":"289110074","mode":"steal"},"values":[[1796083320,"7.89"],[1796083440,"7.9"],[1796083560,"7.91"]]},
              {"metric":{"host_id":"289110074","mode":"system"},"values":[[1796083320,"140.09"],[1796083440,"140.2"],[1796083560,"140.23"]]},
              {"metric":{"host_id":"289110074","mode":"user"},"values":[[1796083320,"278.57"],[1796083440,"278.65"],[1796083560,"278.69"]]}
            ]}}
            """
        let cpu = try ProviderJSON.decoder.decode(DigitalOceanMetricResponse.self, from: Data(json.utf8)).data.result
        let window = CollectionWindow(start: start, end: start.addingTimeInterval(3600))
        let busy = try #require(DigitalOceanMetrics.cpuPercent(cpu, window: window).overall)
        // Δidle = 239.62 of Δall = 239.92 seconds.
        let expected: Decimal = 100 * (1 - Decimal(string: "239.62")! / Decimal(string: "239.92")!)
        #expect(busy.rounded(places: 6) == expected.rounded(places: 6))

        // A reboot resets the counters: that step is left out rather than read as negative time.
        var rebooted = cpu
        rebooted[0].values.append(.init(time: Date(timeIntervalSince1970: 1_796_083_680), value: 10))
        #expect(DigitalOceanMetrics.cpuPercent(rebooted, window: window).overall!.rounded(places: 6) == expected.rounded(places: 6))
    }

    @Test func digitalOceanAmountsBecomeCents() {
        #expect(DigitalOceanMetrics.cents("23.44") == 2344)
        #expect(DigitalOceanMetrics.cents("0.005") == 1)
        #expect(DigitalOceanMetrics.cents("-12.30") == -1230)
        #expect(DigitalOceanMetrics.cents("n/a") == nil)
    }

    @Test func integrationFieldsAreCheckedAllAtOnce() throws {
        func problems(_ body: IntegrationDraft.Create) -> [String] {
            do {
                _ = try IntegrationDraft.validate(body)
                return []
            } catch let error as APIError {
                return error.fields?.map(\.field) ?? [error.code]
            } catch {
                return ["\(error)"]
            }
        }
        let good = IntegrationDraft.Create(kind: "n8n", name: "n8n", baseURL: "https://N8N.example.com/", credentials: ["api_key": "k"])
        #expect(problems(good).isEmpty)
        #expect(try IntegrationDraft.validate(good).baseURL == "https://n8n.example.com")
        #expect(problems(.init(kind: "jenkins", name: "x", credentials: [:])) == ["kind"])
        #expect(
            problems(
                .init(
                    kind: "n8n",
                    name: " ",
                    baseURL: "ftp://n8n.example.com?x=1",
                    credentials: ["token": "t"],
                    config: ["window_hours": .number(500), "colour": "red"],
                    pollSeconds: 60
                )
            ) == ["base_url", "config.colour", "config.window_hours", "credentials.api_key", "credentials.token", "name", "poll_seconds"]
        )
        #expect(problems(.init(kind: "n8n", name: "n8n", credentials: ["api_key": "k"])) == ["base_url"], "an n8n has no default host")
        let digitalOcean = try IntegrationDraft.validate(.init(kind: "digitalocean", name: "DO", credentials: ["token": "dop_v1_x"]))
        #expect(digitalOcean.baseURL == "https://api.digitalocean.com")
        #expect(digitalOcean.pollSeconds == 600)
    }
}

extension IntegrationDraft.Create {
    init(
        kind: String,
        name: String,
        baseURL: String? = nil,
        credentials: [String: String],
        config: [String: JSONValue]? = nil,
        pollSeconds: Int? = nil
    ) {
        self.init(kind: kind, name: name, baseURL: baseURL, credentials: credentials, config: config, pollSeconds: pollSeconds, enabled: nil)
    }
}
