//! The clients of the services a test runs (in process or as binaries).

use super::*;

/// A response as (status, its `Retry-After`, its JSON body or null): what
/// the outage and backpressure tests check.
pub async fn answer(resp: reqwest::Response) -> anyhow::Result<(u16, Option<String>, Value)> {
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((status, retry, resp.json().await.unwrap_or(Value::Null)))
}

/// GET `url` with an optional bearer token; returns (status, JSON body or null).
pub async fn get_json(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = client.get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

/// A service binary running as its own process (killed when dropped).
pub struct ServiceProcess {
    pub base: String,
    pub client: reqwest::Client,
    _child: tokio::process::Child,
}

impl ServiceProcess {
    /// GET `path` with an optional bearer token; returns (status, JSON body).
    pub async fn get_as(&self, path: &str, token: Option<&str>) -> anyhow::Result<(u16, Value)> {
        get_json(&self.client, &format!("{}{path}", self.base), token).await
    }
}

impl TestEnv {
    /// Starts the real `name` binary with this test's settings, listening
    /// on a free port set through `bind_key`, and waits until it is ready.
    pub async fn run_service(&self, name: &str, bind_key: &str) -> anyhow::Result<ServiceProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut cmd = tokio::process::Command::new(binary(name)?);
        cmd.envs(self.env_vars())
            .envs(&self.process_env)
            .env(
                format!("ANALYTICS__{}", bind_key.replace('.', "__").to_uppercase()),
                format!("127.0.0.1:{port}"),
            )
            // Warnings and errors end up in the test's captured output.
            .env("RUST_LOG", "warn")
            .kill_on_drop(true);
        let child = cmd.spawn()?;
        let service = ServiceProcess {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _child: child,
        };
        eventually(Duration::from_secs(20), || async {
            Ok(service
                .client
                .get(format!("{}/ready", service.base))
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
                .map(|_| ()))
        })
        .await
        .with_context(|| format!("{name} never became ready"))?;
        Ok(service)
    }
}

/// A running in-process ingest-svc.
pub struct Ingest {
    pub base: String,
    pub client: reqwest::Client,
    pub(crate) handle: ingest_svc::ServerHandle,
}

impl Ingest {
    pub async fn post_json(&self, body: &Value) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}/api/v1/analytics/events", self.base))
            .json(body)
            .send()
            .await?)
    }

    pub async fn post_raw(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}/api/v1/analytics/events", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?)
    }

    /// Posts a body of any type to any path, as the server-side producer.
    pub async fn post_to(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(INGEST_PRODUCER_TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?)
    }

    /// Posts JSON to a path as the server-side producer; the status and
    /// the JSON answer (Null when the answer is not JSON).
    pub async fn post_json_to(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let resp = self
            .post_to(path, "application/json", body.to_string())
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await?)
    }

    /// Posts an event as the server-side producer (with the producer
    /// token, so any contract value is allowed).
    pub async fn post_as_producer(&self, body: &Value) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}/api/v1/analytics/events", self.base))
            .bearer_auth(INGEST_PRODUCER_TOKEN)
            .json(body)
            .send()
            .await?)
    }

    /// Posts an event now as the server-side producer;
    /// asserts it was accepted.
    pub async fn send(
        &self,
        event_id: &str,
        entity_type: &str,
        entity_id: &str,
        action: &str,
        value: i64,
    ) -> anyhow::Result<()> {
        let resp = self
            .post_as_producer(&event(event_id, entity_type, entity_id, action, value))
            .await?;
        let status = resp.status().as_u16();
        anyhow::ensure!(
            status == 202,
            "event {event_id}: {status} {}",
            resp.text().await?
        );
        Ok(())
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// A running in-process read-api.
pub struct ReadApi {
    pub base: String,
    pub client: reqwest::Client,
    pub(crate) handle: read_api::ServerHandle,
}

impl ReadApi {
    /// GET with the admin token; returns (status, JSON body).
    pub async fn admin(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.get_as(path, Some(ADMIN_TOKEN)).await
    }

    pub async fn get_as(&self, path: &str, token: Option<&str>) -> anyhow::Result<(u16, Value)> {
        get_json(&self.client, &format!("{}{path}", self.base), token).await
    }

    /// The Prometheus page of `/metrics`.
    pub async fn metrics_page(&self) -> anyhow::Result<String> {
        Ok(self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .text()
            .await?)
    }

    /// GET with the admin token; returns (status, headers, JSON body).
    pub async fn admin_with_headers(
        &self,
        path: &str,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, Value)> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await?;
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        Ok((status, headers, resp.json().await.unwrap_or(Value::Null)))
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// telemetry-svc in this process, and the requests its tests make.
pub struct Telemetry {
    pub base: String,
    pub client: reqwest::Client,
}

impl Telemetry {
    pub async fn spawn(env: &TestEnv) -> anyhow::Result<Self> {
        Ok(Telemetry {
            base: env.spawn_telemetry().await?,
            client: reqwest::Client::new(),
        })
    }

    /// Posts a job event with the producer token; returns the answer,
    /// which must be a 202.
    pub async fn post(&self, body: Value) -> anyhow::Result<Value> {
        let resp = self
            .client
            .post(format!("{}/api/v1/telemetry/jobs/events", self.base))
            .bearer_auth(PRODUCER_TOKEN)
            .json(&body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status == 202, "{body} → {status} {answer}");
        Ok(answer)
    }

    /// GET `path` with an optional bearer token: (status, JSON body).
    pub async fn get(&self, path: &str, token: Option<&str>) -> anyhow::Result<(u16, Value)> {
        get_json(&self.client, &format!("{}{path}", self.base), token).await
    }
}
