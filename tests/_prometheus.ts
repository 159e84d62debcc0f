/**
 * A throwaway Prometheus (Debian's `prometheus` package) for tests: started
 * on a free loopback port with a generated config that scrapes the given
 * targets every second, queried through its HTTP API, stopped by PID.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { freePort } from "./_redis_server.ts";

/** Why Prometheus tests are skipped. */
export const PROMETHEUS_SKIP =
  "prometheus not found (apt-get install prometheus, or set PROMETHEUS to its path): skipping";

function binary(): string | undefined {
  for (const file of [process.env.PROMETHEUS, "/usr/bin/prometheus", "/usr/local/bin/prometheus"]) {
    if (file === undefined) continue;
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch { /* the next */ }
  }
  return undefined;
}

/** Whether Prometheus can run here (with `CI=true`, its absence is an error). */
export function prometheusAvailable(): boolean {
  if (binary() !== undefined) return true;
  if (process.env.CI === "true") {
    throw new Error("prometheus is required on CI (CI=true) but was not found");
  }
  return false;
}

/** One result of an instant query: labels and value. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/** A running Prometheus. */
export class Prometheus {
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #exited: Promise<void>;
  /** Its HTTP API, e.g. `http://127.0.0.1:9090`. */
  readonly url: string;

  private constructor(child: ChildProcess, dir: string, url: string) {
    this.#child = child;
    this.#dir = dir;
    this.url = url;
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /**
   * Starts Prometheus scraping `targets` (`host:port`, path `/metrics`) every second.
   *
   * @throws {Error} If it is not ready within `timeoutMs`.
   */
  static async start(targets: string[], timeoutMs = 15_000): Promise<Prometheus> {
    const bin = binary();
    if (bin === undefined) throw new Error(PROMETHEUS_SKIP);
    const dir = mkdtempSync(join(tmpdir(), "async-cache-prometheus-"));
    const port = await freePort();
    writeFileSync(
      join(dir, "prometheus.yml"),
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "scrape_configs:",
        "  - job_name: cache",
        "    metrics_path: /metrics",
        "    static_configs:",
        `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
        "",
      ].join("\n"),
    );
    const child = spawn(bin, [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr!.on("data", (chunk) => log = (log + chunk).slice(-4000));
    const p = new Prometheus(child, dir, `http://127.0.0.1:${port}`);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      const ready = await fetch(`${p.url}/-/ready`).then((r) => r.ok, () => false);
      if (ready) return p;
      await new Promise((r) => setTimeout(r, 100));
    }
    await p.stop();
    throw new Error(`prometheus did not become ready:\n${log}`);
  }

  /** An instant query (`/api/v1/query`). */
  async query(promql: string): Promise<Sample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = await res.json() as {
      status: string;
      error?: string;
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== "success") throw new Error(`query ${promql}: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** The scrape targets' health (`/api/v1/targets`). */
  async targets(): Promise<{ health: string; lastError: string; scrapeUrl: string }[]> {
    const res = await fetch(`${this.url}/api/v1/targets`);
    const body = await res.json() as {
      data: { activeTargets: { health: string; lastError: string; scrapeUrl: string }[] };
    };
    return body.data.activeTargets;
  }

  /** Stops it (SIGTERM, then SIGKILL after 5 s) and removes its folder. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill("SIGTERM");
      const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
      await this.#exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
