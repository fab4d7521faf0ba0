// SPLP Dashboard Monitoring: signs in to the control API (POST /api/v1/auth/token), then reads
// /api/v1/dashboard/stats and /api/v1/analytics/* and draws them with the shipped Chart.js.
// Labels in Bahasa Indonesia (default) and English. The token stays in this page's memory only.
"use strict";

const TEXT = {
  id: {
    title: "Dashboard Monitoring", signin: "Masuk", signout: "Keluar", username: "Nama pengguna",
    password: "Kata sandi", scope: "Cakupan", range: "Rentang", institution: "Instansi", all: "Semua",
    published: "API terbit", created: "API dibuat", deprecated: "API usang", users: "Pengguna",
    tenants: "Instansi", visitors: "Pengunjung aktif", callsByApi: "Panggilan sukses dan gagal per API",
    success: "Sukses", clientErrors: "Gagal (4xx)", serverErrors: "Gagal (5xx)",
    latency: "Latensi dari waktu ke waktu", backends: "Kesehatan backend", state: "Status",
    calls: "Panggilan", failures: "Kegagalan", lastFailure: "Kegagalan terakhir",
    institutions: "API per instansi", totalApis: "Semua API", etl: "Konsolidasi data (ETL)", job: "Job",
    started: "Mulai", errors: "Gagal", badLogin: "Nama pengguna atau kata sandi salah", noData: "Belum ada data",
    up: "normal", degraded: "terganggu", down: "mati", national: "nasional", other: "English",
  },
  en: {
    title: "Monitoring Dashboard", signin: "Sign in", signout: "Sign out", username: "Username",
    password: "Password", scope: "Scope", range: "Range", institution: "Institution", all: "All",
    published: "APIs published", created: "APIs created", deprecated: "APIs deprecated", users: "Users",
    tenants: "Institutions", visitors: "Active visitors", callsByApi: "Successful and failed calls by API",
    success: "Success", clientErrors: "Failed (4xx)", serverErrors: "Failed (5xx)",
    latency: "Latency over time", backends: "Backend health", state: "State",
    calls: "Calls", failures: "Failures", lastFailure: "Last failure",
    institutions: "APIs per institution", totalApis: "All APIs", etl: "Data consolidation (ETL)", job: "Job",
    started: "Started", errors: "Failed", badLogin: "Wrong username or password", noData: "No data yet",
    up: "up", degraded: "degraded", down: "down", national: "national", other: "Bahasa Indonesia",
  },
};

const state = { lang: "id", token: null, tenant: null, charts: {}, timer: null };
const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[state.lang][key] || key;

function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = t("other");
  if (state.token) refresh();
}

async function api(path) {
  const response = await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${state.token}` } });
  if (response.status === 401) { signOut(); throw new Error("signed out"); }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

async function signIn(event) {
  event.preventDefault();
  $("signin-error").textContent = "";
  const response = await fetch("/api/v1/auth/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: $("username").value, password: $("password").value }),
  });
  if (!response.ok) { $("signin-error").textContent = t("badLogin"); return; }
  state.token = (await response.json()).access_token;
  $("signin").hidden = true;
  $("panels").hidden = false;
  $("signout").hidden = false;
  await refresh();
  state.timer = setInterval(refresh, 15000);
}

function signOut() {
  state.token = null;
  clearInterval(state.timer);
  $("panels").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "-" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function fill(tableId, rows, render) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren();
  if (!rows.length) { cell(body.insertRow(), t("noData")).colSpan = 8; return; }
  rows.forEach((item) => render(body.insertRow(), item));
}

function chart(id, config) {
  if (state.charts[id]) state.charts[id].destroy();
  state.charts[id] = new Chart($(id), { ...config, options: { animation: false, responsive: true, ...config.options } });
}

async function refresh() {
  const to = Math.floor(Date.now() / 1000) + 60;
  const from = to - Number($("range").value);
  const tenant = state.tenant ? `&tenant=${encodeURIComponent(state.tenant)}` : "";
  const [stats, traffic, series, backends] = await Promise.all([
    api("/dashboard/stats"),
    api(`/analytics/traffic?from=${from}&to=${to}${tenant}`),
    api(`/analytics/timeseries?from=${from}&to=${to}${tenant}`),
    api("/analytics/backends?window=3600"),
  ]);
  $("scope").textContent = stats.scope === "national" ? t("national") : stats.scope;
  $("t-published").textContent = stats.apis_published;
  $("t-created").textContent = stats.apis_created;
  $("t-deprecated").textContent = stats.apis_deprecated;
  $("t-users").textContent = stats.total_users;
  $("t-tenants").textContent = stats.total_tenants;
  $("t-visitors").textContent = stats.active_visitors;

  const apis = traffic.apis;
  chart("calls-chart", {
    type: "bar",
    data: {
      labels: apis.map((a) => a.api),
      datasets: [
        { label: t("success"), data: apis.map((a) => a.success), backgroundColor: "#1b7f3b" },
        { label: t("errors"), data: apis.map((a) => a.client_errors + a.server_errors), backgroundColor: "#b00020" },
      ],
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
  });
  fill("calls-table", apis, (row, a) => {
    cell(row, a.api);
    [a.success, a.client_errors, a.server_errors, a.p50_ms, a.p95_ms, a.p99_ms].forEach((v) => cell(row, v, "num"));
  });

  const points = series.points;
  const stamp = (p) => new Date(p.time * 1000).toLocaleTimeString(state.lang === "id" ? "id-ID" : "en-GB");
  chart("latency-chart", {
    type: "line",
    data: {
      labels: points.map(stamp),
      datasets: ["p50_ms", "p95_ms", "p99_ms"].map((key, i) => ({
        label: key.replace("_ms", " ms"), data: points.map((p) => p[key]),
        borderColor: ["#0b4f8a", "#b26a00", "#b00020"][i], fill: false,
      })),
    },
    options: { scales: { y: { beginAtZero: true } } },
  });

  fill("backends-table", backends.backends, (row, b) => {
    cell(row, b.endpoint);
    cell(row, t(b.state), `state-${b.state}`);
    cell(row, b.calls, "num");
    cell(row, b.failures, "num");
    cell(row, b.last_failure ? `${b.last_failure} (${new Date(b.last_failure_at * 1000).toLocaleString()})` : null);
  });

  fill("institutions-table", stats.apis_per_institution, (row, i) => {
    const link = document.createElement("a");
    link.className = "institution";
    link.textContent = i.name;
    link.onclick = () => { state.tenant = i.tenant; $("institution-name").textContent = i.name;
      $("institution-filter").hidden = false; refresh(); };
    row.insertCell().appendChild(link);
    cell(row, i.published, "num");
    cell(row, i.total, "num");
  });

  try {  // the ETL panel shows runs where the control API serves them
    const runs = await api("/etl/runs?limit=10");
    fill("etl-table", runs.items || [], (row, r) => { cell(row, r.job); cell(row, r.state); cell(row, r.started_at); });
  } catch (error) {
    fill("etl-table", [], () => {});
  }
  document.body.dataset.loaded = String(Date.now());
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("lang").addEventListener("click", () => { state.lang = state.lang === "id" ? "en" : "id"; applyLanguage(); });
  $("range").addEventListener("change", refresh);
  $("institution-clear").addEventListener("click", () => { state.tenant = null;
    $("institution-filter").hidden = true; refresh(); });
  applyLanguage();
});
