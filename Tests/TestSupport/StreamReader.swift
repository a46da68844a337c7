import AsyncHTTPClient
import Foundation
import NIOCore

/// A Server-Sent Events client for tests: opens `GET url` and hands out the events as they arrive.
public struct StreamReader: Sendable {
    public struct Received: Sendable, Equatable {
        public var id: Int64?
        public var event: String
        public var data: String
    }

    let stream: AsyncThrowingStream<Received, any Error>
    let continuation: AsyncThrowingStream<Received, any Error>.Continuation
    public let status: Int

    /// Hangs up, as a browser leaving the page does.
    public func close() { continuation.finish() }

    /// Opens the stream, signed in with `token` when one is given; `lastEventID` is sent as `Last-Event-ID`.
    public static func open(_ url: String, token: String?, lastEventID: Int64? = nil, http: HTTPClient) async throws -> StreamReader {
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: String(lastEventID)) }
        let response = try await http.execute(request, timeout: .seconds(10))
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: Received.self)
        let task = Task {
            var pending = ""
            do {
                for try await chunk in response.body {
                    pending += String(buffer: chunk)
                    while let end = pending.range(of: "\n\n") {
                        let frame = pending[..<end.lowerBound]
                        pending = String(pending[end.upperBound...])
                        var received = Received(id: nil, event: "message", data: "")
                        var isEvent = false
                        for line in frame.split(separator: "\n") where !line.hasPrefix(":") {
                            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                            guard parts.count == 2 else { continue }
                            switch parts[0] {
                            case "id": received.id = Int64(parts[1])
                            case "event": received.event = parts[1]
                            case "data":
                                received.data = parts[1]
                                isEvent = true
                            default: continue
                            }
                        }
                        if isEvent { continuation.yield(received) }
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return StreamReader(stream: stream, continuation: continuation, status: Int(response.status.code))
    }

    /// The events up to and including the first that `stop` accepts, or throws when `timeout` passes first.
    public func read(until stop: @escaping @Sendable (Received) -> Bool, timeout: Duration = .seconds(10)) async throws -> [Received] {
        try await withThrowingTaskGroup(of: [Received]?.self) { group in
            group.addTask {
                var events: [Received] = []
                for try await event in stream {
                    events.append(event)
                    if stop(event) { return events }
                }
                return events
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let events = try await group.next() ?? nil else { throw StreamTimeout() }
            return events
        }
    }
}

struct StreamTimeout: Error {}
