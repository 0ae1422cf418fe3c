//! A test's environment: its settings, the services and jobs it runs on
//! its slice of the stores.

use super::*;

impl TestEnv {
    pub async fn new() -> anyhow::Result<Self> {
        let id = format!("t{}", uuid::Uuid::new_v4().simple())
            .chars()
            .take(17)
            .collect::<String>();
        let mut admin = MySqlConnection::connect(&mysql_url())
            .await
            .context("connect to MariaDB (run scripts/test.sh, which starts it)")?;
        admin
            .execute(format!("CREATE DATABASE `{id}`").as_str())
            .await?;
        let mut settings = BTreeMap::new();
        let mysql = mysql_url_for(&id);
        if let Some(nodes) = redis_cluster_nodes() {
            settings.insert("redis.cluster_nodes".to_string(), nodes);
        }
        for (k, v) in [
            ("redis.url", redis_url()),
            ("redis.key_prefix", id.clone()),
            ("mongo.url", mongo_url()),
            ("mongo.database", id.clone()),
            ("mysql.url", mysql.clone()),
            ("ingest.bind", "127.0.0.1:0".into()),
            ("read_api.bind", "127.0.0.1:0".into()),
            ("read_api.admin_token", ADMIN_TOKEN.into()),
            ("telemetry.bind", "127.0.0.1:0".into()),
            ("telemetry.producer_token", PRODUCER_TOKEN.into()),
            ("telemetry.operator_token", OPERATOR_TOKEN.into()),
            ("ingest.rate_limit_per_minute", "0".into()),
            ("ingest.producer_token", INGEST_PRODUCER_TOKEN.into()),
            ("read_api.counts_rate_limit_per_minute", "0".into()),
            // Counts exact at once; the cache has its own test.
            ("read_api.counts_cache_ms", "0".into()),
            ("read_api.report_cache_ms", "0".into()),
            ("read_api.snapshot_cache_ms", "0".into()),
            // Short, so a killed run's lease expires soon (a live run
            // renews its leases every third of this, however slow a step).
            ("flush.lease_ttl_ms", "1000".into()),
        ] {
            settings.insert(k.to_string(), v);
        }
        Ok(TestEnv {
            redis_url: redis_url(),
            mongo_url: mongo_url(),
            mysql_url: mysql,
            id,
            settings,
            process_env: BTreeMap::new(),
        })
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    /// Points this test at one Redis of its own (`url`), also when the
    /// suite runs on a cluster: a test of one server's own behaviour (its
    /// outage, memory, refusals, ACLs) needs that server.
    pub fn use_redis(&mut self, url: impl Into<String>) -> &mut Self {
        let url = url.into();
        self.settings.remove("redis.cluster_nodes");
        self.redis_url = url.clone();
        self.set("redis.url", url)
    }

    /// Sets a non-`ANALYTICS__` environment variable for the binaries.
    pub fn set_process_env(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.process_env.insert(key.into(), value.into());
        self
    }

    /// This test's settings as the `ANALYTICS__SECTION__KEY` env vars a
    /// real binary reads.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        self.settings
            .iter()
            .map(|(k, v)| {
                (
                    format!("ANALYTICS__{}", k.replace('.', "__").to_uppercase()),
                    v.clone(),
                )
            })
            .collect()
    }

    fn overrides(&self) -> Vec<(&str, &str)> {
        self.settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    pub fn ingest_settings(&self) -> anyhow::Result<ingest_svc::Settings> {
        Ok(analytics_runtime::config::load_with(&self.overrides())?)
    }

    /// Starts ingest-svc in this process on a free port.
    pub async fn spawn_ingest(&self) -> anyhow::Result<Ingest> {
        self.spawn_ingest_with(self.ingest_settings()?).await
    }

    pub async fn spawn_ingest_with(
        &self,
        settings: ingest_svc::Settings,
    ) -> anyhow::Result<Ingest> {
        let app = ingest_svc::build(settings)?;
        let handle = app.server.handle();
        tokio::spawn(app.server);
        Ok(Ingest {
            base: format!("http://127.0.0.1:{}", app.port),
            client: reqwest::Client::new(),
            handle,
        })
    }

    /// Starts read-api in this process on a free port.
    pub async fn spawn_read_api(&self) -> anyhow::Result<ReadApi> {
        let settings: read_api::Settings = analytics_runtime::config::load_with(&self.overrides())?;
        let app = read_api::build(settings).await?;
        let handle = app.server.handle();
        tokio::spawn(app.server);
        Ok(ReadApi {
            base: format!("http://127.0.0.1:{}", app.port),
            client: reqwest::Client::new(),
            handle,
        })
    }

    /// Starts telemetry-svc in this process; returns its base URL.
    pub async fn spawn_telemetry(&self) -> anyhow::Result<String> {
        let settings: telemetry_svc::Settings =
            analytics_runtime::config::load_with(&self.overrides())?;
        let app = telemetry_svc::build(settings).await?;
        tokio::spawn(app.server);
        Ok(format!("http://127.0.0.1:{}", app.port))
    }

    /// The operator's `/pipeline` verdict, from a telemetry-svc of this test.
    pub async fn pipeline_verdict(&self) -> anyhow::Result<Value> {
        let telemetry = self.spawn_telemetry().await?;
        let (_, verdict) = get_json(
            &reqwest::Client::new(),
            &format!("{telemetry}/api/v1/telemetry/pipeline"),
            Some(OPERATOR_TOKEN),
        )
        .await?;
        Ok(verdict)
    }

    /// Runs a flush-worker subcommand as a real process.
    pub async fn flush_worker(
        &self,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Output> {
        let mut cmd = tokio::process::Command::new(binary("flush-worker")?);
        cmd.args(args)
            .env("RUST_LOG", "warn")
            .envs(&self.process_env);
        for (k, v) in &self.settings {
            cmd.env(
                format!("ANALYTICS__{}", k.replace('.', "__").to_uppercase()),
                v,
            );
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        Ok(cmd.output().await?)
    }

    /// Runs `flush` until a run finds every partition free (a killed run's
    /// lease has to expire first) and reports no errors. A run killed while
    /// its sweep had a transaction open (the raw-log copy runs beside the
    /// sweep, so a kill at `after-log-copy` can land there) leaves that
    /// transaction to the server until its lifetime (60 s) runs out: the
    /// deadline outlasts it.
    pub async fn flush_until_clean(&self) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let out = self
                .flush_worker(&["flush"], &[("RUST_LOG", "flush_worker=info")])
                .await?;
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.success() && stderr.contains("\"skipped_partitions\":0") {
                return Ok(stdout);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "flush never ran clean: {stdout} {stderr}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs one flush that must find nothing to do: an exact second run
    /// after a clean one (its log is in the message when it did not).
    pub async fn flush_finds_nothing(&self) -> anyhow::Result<()> {
        let out = self.flush_worker(&["flush"], &[]).await?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        anyhow::ensure!(
            stdout == "Flushed 0 keys, 0 errors.\n",
            "expected a flush with nothing to do, got {stdout:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let out = self.flush_worker(&["migrate"], &[]).await?;
        anyhow::ensure!(
            out.status.success(),
            "migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }
}
