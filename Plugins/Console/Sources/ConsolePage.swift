import Foundation
import XunfangGeo

/// The console's two pages and its script. The script only draws what the plugins answer
/// and sends what the officer does; Chinese labels first, English beside them, China time.
enum ConsolePage {
    /// Scripts and styles from the console itself only; nothing from outside.
    static let policy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'"

    static func signIn(message: String) -> String {
        """
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>巡防指挥台 · 登录 Sign in</title>
        <style>body{font-family:sans-serif;margin:4em auto;max-width:22em}label{display:block;margin:.6em 0}input{width:100%}p.error{color:#b71c1c}</style>
        </head><body>
        <h1>巡防指挥台 Xunfang console</h1>
        \(message.isEmpty ? "" : "<p class=\"error\" id=\"error\">\(SVGFrame.escape(message))</p>")
        <form method="post" action="/login" id="signin">
        <label>用户名 Name <input name="name" id="name" autocomplete="username" required maxlength="64"></label>
        <label>密码 Password <input name="password" id="password" type="password" autocomplete="current-password" required maxlength="256"></label>
        <button type="submit" id="submit">登录 Sign in</button>
        </form></body></html>
        """
    }

    static func console(officer: String, role: Role, station: String = "") -> String {
        """
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>巡防指挥台 Xunfang console</title>
        <link rel="stylesheet" href="/leaflet/leaflet.css">
        <style>
        body{margin:0;font-family:sans-serif;font-size:13px;display:flex;flex-direction:column;height:100vh}
        header{padding:.4em .8em;background:#0d2c54;color:#fff;display:flex;gap:1em;align-items:center}
        header form{margin-left:auto}
        main{flex:1;display:flex;min-height:0}
        #map{flex:3;background:#eef1f4}
        aside{flex:2;overflow:auto;padding:.5em;border-left:1px solid #ccc;contain:strict}
        table{border-collapse:collapse;width:100%;table-layout:fixed}td,th{border-bottom:1px solid #ddd;padding:2px 4px;text-align:left;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
        .status-UNIT_STATUS_AVAILABLE{color:#2e7d32}.status-UNIT_STATUS_OFF_DUTY{color:#999}
        .late{color:#b71c1c;font-weight:bold}#seal{background:#fff3e0;padding:0 .4em}#seal:empty{display:none}#escalations{background:#ffebee}#escalations:empty{display:none}
        .legend span{display:inline-block;width:1em;height:1em;vertical-align:middle;margin:0 .2em 0 .6em}
        #recommendation li{margin:.2em 0}
        </style>
        </head><body data-acts="\(role.acts)" data-station="\(SVGFrame.escape(station))">
        <header><strong>巡防指挥台</strong><span id="officer">\(SVGFrame.escape(officer)) · \(SVGFrame.escape(role.label))</span><span id="scope"></span>
        <span id="clock"></span><span id="live">○ 未连接 offline</span>
        <form method="post" action="/logout"><button>退出 Sign out</button></form></header>
        <main><div id="map"></div>
        <aside>
        <p><input id="place-search" type="search" placeholder="搜索地点 Find a place: 网格、派出所、卡点…" maxlength="64" autocomplete="off" style="width:100%"></p>
        <ul id="places"></ul>
        <p id="hint">\(role.acts ? "点击地图新建警情 Click the map to create an incident" : "只读 Read only")</p>
        <div id="escalations"></div>
        <div id="recommendation"></div>
        <div id="seal"></div>
        <div id="moveup"></div>
        <div id="containments"></div>
        \(role.acts ? "<h2>群众线索 Tips</h2><table><tbody id=\"tips\"></tbody></table>" : "")
        <h2>警情 Incidents</h2><table><thead><tr><th>编号 id</th><th>类型 type</th><th>状态 status</th><th>派出所 station</th><th>接警 received</th><th>已用 elapsed</th></tr></thead><tbody id="incidents"></tbody></table>
        <h2>卡点 Checkpoints <span id="checkpoint-day"></span></h2><table><thead><tr><th>卡点 checkpoint</th><th>状态 status</th><th>今日车辆 vehicles today</th><th>最近报告 last report</th></tr></thead><tbody id="checkpoints"></tbody></table>
        <h2>封控预案 Seal plans</h2><ul id="seal-plans"></ul>
        <p id="colour-legend"></p><p id="coverage-legend"></p>
        <h2>预警 Warnings <span id="warning-day"></span></h2><ul id="warnings"></ul>
        <h2>巡逻 Patrol <span id="patrol-shift"></span></h2><table><thead><tr><th>派出所 station</th><th>巡逻单位 units</th><th>必巡点 points</th><th>必巡线 lines</th></tr></thead><tbody id="patrol"></tbody></table>
        <ul id="patrol-exceptions"></ul>
        <h2>社区预警 Community alerts (24 h)</h2><ul id="community"></ul><ul id="watches"></ul>
        <h2>警力 Units <span id="unit-count"></span></h2><table><thead><tr><th>呼号 unit</th><th>派出所 station</th><th>状态 status</th><th>位置时间 heard at</th></tr></thead><tbody id="units"></tbody></table>
        </aside></main>
        <script src="/leaflet/leaflet.js"></script><script src="/console.js"></script>
        </body></html>
        """
    }

    static let script = #"""
    "use strict";
    const acts = document.body.dataset.acts === "true";
    // Seals close roads across stations: the county's duty officer's, not a station chief's.
    const sealActs = acts && !document.body.dataset.station;
    const chinaTime = new Intl.DateTimeFormat("zh-CN", {timeZone: "Asia/Shanghai", hour12: false, dateStyle: "short", timeStyle: "medium"});
    const chinaMinute = new Intl.DateTimeFormat("zh-CN", {timeZone: "Asia/Shanghai", hour12: false, hour: "2-digit", minute: "2-digit"});
    const china = t => t ? chinaTime.format(new Date(Number(t))) : "-";
    const statusNames = {UNIT_STATUS_AVAILABLE: "空闲 available", UNIT_STATUS_ASSIGNED: "已派 assigned", UNIT_STATUS_EN_ROUTE: "在途 en route",
      UNIT_STATUS_ON_SCENE: "到场 on scene", UNIT_STATUS_RETURNING: "返回 returning", UNIT_STATUS_OFF_DUTY: "下班 off duty",
      UNIT_STATUS_OUT_OF_SERVICE: "停用 out of service"};
    const colours = {UNIT_STATUS_AVAILABLE: "#2e7d32", UNIT_STATUS_OFF_DUTY: "#9e9e9e"};
    const names = {};
    const gridShapes = {};
    const units = {};
    const map = L.map("map", {preferCanvas: true, zoomControl: true});
    // Roads on a canvas of their own under everything, units and incidents on one above:
    // a moving unit redraws its canvas only, never the county's tens of thousands of roads.
    map.createPane("roads").style.zIndex = 350;
    map.createPane("live").style.zIndex = 450;
    const roadRenderer = L.canvas({pane: "roads"});
    const liveRenderer = L.canvas({pane: "live"});
    const unitLayer = L.layerGroup().addTo(map);
    const incidentLayer = L.layerGroup().addTo(map);
    const hotLayer = L.layerGroup().addTo(map);
    // Off until asked for: drawn when switched on in the corner, from the units available then.
    // One layer per response circle (1, 3 and 5 minutes), each drawn when switched on.
    const coverageLayers = {60: L.layerGroup(), 180: L.layerGroup(), 300: L.layerGroup()};
    const coverageLayer = coverageLayers[180];
    const containmentLayer = L.layerGroup().addTo(map);
    const cameraLayer = L.layerGroup();
    const tipLayer = L.layerGroup().addTo(map);
    const patrolLayer = L.layerGroup().addTo(map);
    const watchLayer = L.layerGroup().addTo(map);
    const sites = {};
    // How long a position took from its terminal to its marker on screen (ms), the last
    // 20,000: the console's benchmark reads it; nothing is sent anywhere.
    const positionDelays = [];
    let drawnPositions = [];
    function noteDrawn(at) {
      if (drawnPositions.push(at) > 1) return;
      requestAnimationFrame(() => {
        const now = Date.now();
        for (const sent of drawnPositions) positionDelays.push(now - sent);
        if (positionDelays.length > 20000) positionDelays.splice(0, positionDelays.length - 20000);
        drawnPositions = [];
      });
    }
    const incidentMarkers = {};
    // Every named place of the county (grids, stations' districts, sites) for the search box.
    const places = [];
    let sealPlans = [];
    // Each plan's newest readiness (CheckpointControl, once a minute): would it hold now?
    const readiness = {};
    const text = s => { const span = document.createElement("span"); span.textContent = s; return span.innerHTML; };
    async function get(path) {
      const answer = await fetch(path, {credentials: "same-origin"});
      if (answer.status === 401) { location.reload(); throw new Error("signed out"); }
      const json = await answer.json();
      if (!answer.ok) throw new Error(json.error || answer.statusText);
      return json;
    }
    async function post(path, body) {
      const answer = await fetch(path, {method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
      const json = await answer.json();
      if (!answer.ok) throw new Error(json.error || answer.statusText);
      return json;
    }
    async function drawCounty() {
      const county = await get("/api/map");
      const bounds = L.latLngBounds([]);
      for (const area of county.areas.areas || []) {
        names[area.id] = area.name;
        gridShapes[area.id] = [];
        for (const ring of area.outline || []) {
          const points = (ring.points || []).map(p => [p.latitude, p.longitude]);
          points.forEach(p => bounds.extend(p));
          gridShapes[area.id].push(L.polygon(points, {color: "#5c6b7a", weight: 1, fillColor: "#90a4ae", fillOpacity: 0.12}).bindTooltip(area.name).addTo(map));
        }
        if (gridShapes[area.id].length) places.push({name: area.name, kind: "网格 grid", shape: gridShapes[area.id][0]});
      }
      // Each kind of site a layer of its own, switched on and off in the corner.
      const kinds = {
        SITE_KIND_STATION_HOUSE: ["派出所 stations", {radius: 6, color: "#0d2c54", fillOpacity: 0.9}],
        SITE_KIND_CHECKPOINT: ["卡点 checkpoints", {radius: 5, color: "#b71c1c", fillOpacity: 0.8}],
        SITE_KIND_CITY_EXIT: ["出城卡口 city exits", {radius: 6, color: "#880e4f", fillOpacity: 0.8}],
        SITE_KIND_FIXED_POST: ["固定岗 fixed posts", {radius: 3, color: "#1565c0", fillOpacity: 0.8}],
        SITE_KIND_MOBILE_POST: ["流动岗 mobile posts", {radius: 3, color: "#42a5f5", fillOpacity: 0.8}],
        SITE_KIND_SERVICE_STATION: ["警务站 service stations", {radius: 4, color: "#6a1b9a", fillOpacity: 0.8}],
        SITE_KIND_POLICE_ROOM: ["警务室 police rooms", {radius: 3, color: "#8e24aa", fillOpacity: 0.8}],
        SITE_KIND_PATROL_POINT: ["必巡点 must-patrol points", {radius: 3, color: "#ef6c00", fillOpacity: 0.9}],
        SITE_KIND_PATROL_LINE: ["必巡线 must-patrol lines", {weight: 3, color: "#ef6c00", opacity: 0.8}]};
      const layers = {};
      for (const site of county.sites.sites || []) {
        const [label, style] = kinds[site.kind] || ["其他 other", {radius: 3, color: "#555"}];
        const layer = layers[label] = layers[label] || L.layerGroup().addTo(map);
        const name = site.kind === "SITE_KIND_STATION_HOUSE" ? (names[site.stationId] || site.name) : site.name;
        const shape = site.kind === "SITE_KIND_PATROL_LINE" && site.path
          ? L.polyline(site.path.map(p => [p.latitude, p.longitude]), style)
          : L.circleMarker([site.position.latitude, site.position.longitude], style);
        shape.bindTooltip(name).addTo(layer);
        places.push({name, kind: label, shape});
        sites[site.id] = {name, position: site.position};
      }
      layers["警力 units"] = unitLayer;
      layers["警情 incidents"] = incidentLayer;
      layers["热点 hot cells"] = hotLayer;
      for (const seconds of [60, 180, 300]) layers[`${seconds / 60}分钟覆盖 ${seconds / 60}-minute coverage`] = coverageLayers[seconds];
      layers["围堵 containment"] = containmentLayer;
      layers["摄像头 cameras"] = cameraLayer;
      layers["线索 tips"] = tipLayer;
      layers["本班必巡点 patrol points this shift"] = patrolLayer;
      layers["社区守望 community watches"] = watchLayer;
      L.control.layers(null, layers, {collapsed: true}).addTo(map);
      document.body.dataset.sites = String((county.sites.sites || []).length);
      const station = document.body.dataset.station;
      if (station) document.getElementById("scope").textContent = `本所 ${names[station] || station} only`;
      if (bounds.isValid()) map.fitBounds(bounds); else map.setView([30.9769, 104.2817], 12);
      await drawRoads();
    }
    // Roads as a few canvas layers by class (one layer per class, not one per road).
    async function drawRoads() {
      const roads = await get("/api/roads");
      const c = roads.coordinates || [], classes = roads.classes || [];
      const byClass = {};
      for (let i = 0; i < classes.length; i++) {
        const k = Math.min(classes[i] || 0, 6);
        (byClass[k] = byClass[k] || []).push([[c[4 * i + 1] / 1e6, c[4 * i] / 1e6], [c[4 * i + 3] / 1e6, c[4 * i + 2] / 1e6]]);
      }
      const styles = [[3, "#e65100"], [3, "#ef6c00"], [2.5, "#f9a825"], [2, "#9e9d24"], [1.5, "#757575"], [1, "#9e9e9e"], [0.8, "#bdbdbd"]];
      for (const k of Object.keys(byClass).sort((a, b) => b - a)) {
        L.polyline(byClass[k], {weight: styles[k][0], color: styles[k][1], interactive: false, renderer: roadRenderer}).addTo(map);
      }
      document.body.dataset.roads = String(classes.length);
    }
    // The contracts' JSON leaves out zero values: a unit without a status is off duty, an
    // incident without one received.
    function drawUnit(unit) {
      const known = units[unit.callSign] || {status: "UNIT_STATUS_OFF_DUTY"};
      Object.assign(known, unit);
      units[unit.callSign] = known;
      unitChanged(unit.callSign);
      if (known.position && known.position.latitude) {
        const at = [known.position.latitude, known.position.longitude];
        const colour = colours[known.status] || "#c62828";
        if (!known.marker) known.marker = L.circleMarker(at, {radius: 4, color: colour, fillOpacity: 1, renderer: liveRenderer}).bindTooltip(known.callSign).addTo(unitLayer);
        known.marker.setLatLng(at).setStyle({color: colour});
      }
    }
    // The units board: a row per unit, made once; only what changed is written, at most
    // once a second, so a county of units reporting every second does not hold up the map.
    const changedUnits = new Set();
    let rowsPending = false;
    function unitChanged(callSign) {
      changedUnits.add(callSign);
      if (!rowsPending) { rowsPending = true; setTimeout(writeRows, 1000); }
    }
    function writeRows() {
      rowsPending = false;
      const body = document.getElementById("units");
      let added = false;
      for (const callSign of changedUnits) {
        const u = units[callSign];
        if (!u.row) {
          u.row = document.createElement("tr");
          u.row.id = "unit-" + callSign;
          u.row.innerHTML = "<td></td><td></td><td></td><td></td>";
          u.row.cells[0].textContent = callSign;
          added = true;
        }
        const cells = u.row.cells, status = u.status || "";
        const station = names[u.homeStation] || u.homeStation || "", said = statusNames[status] || status;
        if (cells[1].textContent !== station) cells[1].textContent = station;
        if (cells[2].textContent !== said) { cells[2].textContent = said; cells[2].className = "status-" + status; }
        // Heard from to the minute: a row changes once a minute, not every second.
        const minute = u.positionAt ? Math.floor(Number(u.positionAt) / 60000) : 0;
        if (u.shownMinute !== minute) { u.shownMinute = minute; cells[3].textContent = minute ? chinaMinute.format(new Date(minute * 60000)) : "-"; }
      }
      changedUnits.clear();
      if (added) {
        for (const callSign of Object.keys(units).sort()) body.appendChild(units[callSign].row);
        document.getElementById("unit-count").textContent = `(${Object.keys(units).length})`;
      }
    }
    async function refreshUnits() {
      const answer = await get("/api/units");
      for (const unit of answer.units || []) drawUnit(Object.assign({status: "UNIT_STATUS_OFF_DUTY"}, unit));
      writeRows();
    }
    async function refreshIncidents() {
      const answer = await get("/api/incidents");
      const isOpen = i => !["INCIDENT_STATUS_CLOSED", "INCIDENT_STATUS_CLEARED"].includes(i.status);
      for (const i of answer.incidents || []) {
        if (!i.location) continue;
        const open = isOpen(i);
        const marker = incidentMarkers[i.id] = incidentMarkers[i.id] ||
          L.circleMarker([i.location.latitude, i.location.longitude], {radius: 8, weight: 3, renderer: liveRenderer}).addTo(incidentLayer);
        marker.setStyle({color: open ? "#d50000" : "#9e9e9e", fillOpacity: open ? 0.5 : 0.1})
          .bindTooltip(`${i.id} ${i.typeName || i.typeCode} ${(i.status || "INCIDENT_STATUS_RECEIVED").replace("INCIDENT_STATUS_", "")}`);
      }
      document.getElementById("incidents").innerHTML = (answer.incidents || []).map(i =>
        `<tr id="incident-${text(i.id)}"><td>${text(i.id)}</td><td>${text(i.typeName || i.typeCode)}</td><td>${text((i.status || "INCIDENT_STATUS_RECEIVED").replace("INCIDENT_STATUS_", ""))}</td>` +
        `<td>${text(names[i.stationId] || i.stationId || "")}</td><td>${text(china(i.times && i.times.received))}</td>` +
        `<td class="elapsed" data-since="${isOpen(i) && i.times ? Number(i.times.received || 0) : 0}"></td>` +
        (acts ? `<td><button class="personal" data-incident="${text(i.id)}">报警人 caller</button></td>` : "") + `</tr>`).join("");
      document.querySelectorAll("#incidents button.personal").forEach(button => button.addEventListener("click", () => readPersonal(button.dataset.incident)));
      tickTimers();
    }
    // The caller's words and number: asked for with a purpose, logged, shown, never kept.
    async function readPersonal(incident) {
      const purpose = window.prompt("查阅原因 Why do you need the caller's details? (logged)", "");
      if (!purpose) return;
      const box = document.getElementById("recommendation");
      try {
        const record = await post(`/api/incidents/${encodeURIComponent(incident)}/personal`, {purpose});
        box.innerHTML = `<h2>报警人 Caller · ${text(incident)}</h2><p id="personal">` + (record.erased ? "已按期删除 erased after the retention period" :
          `${text(record.report || "")}<br>${text(record.callerPhone || "")}`) + `</p><p>已记录查阅 This look was logged.</p>`;
      } catch (error) { box.innerHTML = `<p class="error">${text(error.message)}</p>`; }
    }
    async function recommend(incident) {
      const answer = await get(`/api/incidents/${encodeURIComponent(incident)}/recommend`);
      const box = document.getElementById("recommendation");
      const ranked = (answer.units || []).map(u =>
        `<li>${text(u.callSign)} · ${Math.round(u.etaSeconds || 0)} s · ${Math.round(u.metres || 0)} m · ${text(u.explanation || "")} ` +
        (acts ? `<button data-unit="${text(u.callSign)}" class="assign">派 Assign</button>` : "") + "</li>");
      box.innerHTML = `<h2>推荐 Recommendation ${text(incident)}</h2><ol id="ranked">${ranked.join("")}</ol>` +
        `<p id="explanation">${text(answer.note || "")}</p>` + (acts ? majorForm(incident) : "");
      const form = document.getElementById("major");
      if (form) form.addEventListener("submit", event => { event.preventDefault(); majorIncident(form); });
      box.querySelectorAll("button.assign").forEach(button => button.addEventListener("click", async () => {
        try {
          const assigned = await post(`/api/incidents/${encodeURIComponent(incident)}/assign`, {unit: button.dataset.unit});
          box.insertAdjacentHTML("beforeend", `<p id="assigned">已派 ${text(assigned.unit.callSign)} → ${text(incident)}</p>`);
          drawUnit(assigned.unit); writeRows(); refreshIncidents();
        } catch (error) { box.insertAdjacentHTML("beforeend", `<p class="error">${text(error.message)}</p>`); }
      }));
    }
    // 一键处置: the nearest units ordered, a seal plan activated and the community asked to
    // watch, in one step through Dispatch's MajorIncident.
    function majorForm(incident) {
      const plans = sealActs ? sealPlans.map(plan => `<option value="${text(plan.id)}">${text(plan.name)}</option>`).join("") : "";
      return `<form id="major" data-incident="${text(incident)}"><h3>一键处置 Major incident</h3>` +
        `<label>警力 units <input name="units" type="number" min="1" max="20" value="6"></label> ` +
        `<label>封控 seal <select name="sealPlan"><option value="">不封控 none</option>${plans}</select></label> ` +
        `<label><input name="drill" type="checkbox"> 演练 drill</label> ` +
        `<label>群防守望 watch <input name="watchHours" type="number" min="0" max="12" value="0"> 小时 h</label> ` +
        `<button type="submit">启动 Go</button></form>`;
    }
    async function majorIncident(form) {
      const incident = form.dataset.incident, fields = form.elements;
      const request = {units: Number(fields.units.value), sealPlan: fields.sealPlan.value, drill: fields.drill.checked, watchHours: Number(fields.watchHours.value)};
      let line;
      try {
        const answer = await post(`/api/incidents/${encodeURIComponent(incident)}/major`, request);
        const orders = (answer.orders || []).map(order => order.unit.callSign);
        line = `已派 ${orders.length} 个单位 units ordered: ${orders.join(", ")}` + (answer.sealActivation ? ` · 封控 seal ${answer.sealActivation}` : "") +
          (answer.watchId ? ` · 守望 watch ${answer.watchId}` : "") + (answer.note ? ` · ${answer.note}` : "");
        refreshIncidents();
      } catch (error) { line = error.message; }
      form.insertAdjacentHTML("afterend", `<p id="major-result">${text(line)}</p>`);
    }
    async function createAt(latlng) {
      if (!acts) return;
      const type = window.prompt("警情类型 Incident type (theft, fight, traffic…)", "theft");
      if (!type) return;
      try {
        const created = await post("/api/incidents", {type, longitude: latlng.lng, latitude: latlng.lat});
        await refreshIncidents();
        await recommend(created.incident.id);
      } catch (error) { document.getElementById("hint").textContent = error.message; }
    }
    map.on("click", event => createAt(event.latlng));
    // Place search: names containing what is typed (at most 10, grids and stations first);
    // choosing one shows it on the map, and a duty officer can take a call there.
    function placeCentre(place) { return place.shape.getBounds ? place.shape.getBounds().getCenter() : place.shape.getLatLng(); }
    document.getElementById("place-search").addEventListener("input", event => {
      const wanted = event.target.value.trim().toLowerCase();
      const found = wanted ? places.filter(place => place.name.toLowerCase().includes(wanted)).slice(0, 10) : [];
      const list = document.getElementById("places");
      list.innerHTML = found.map((place, index) => `<li><a href="#" data-index="${index}">${text(place.name)}</a> · ${text(place.kind)}` +
        (acts ? ` <button data-index="${index}" class="create-here">在此接警 Incident here</button>` : "") + "</li>").join("");
      list.querySelectorAll("a").forEach(link => link.addEventListener("click", event => {
        event.preventDefault();
        const place = found[Number(link.dataset.index)];
        if (place.shape.getBounds) map.fitBounds(place.shape.getBounds(), {maxZoom: 16}); else map.setView(place.shape.getLatLng(), 16);
        place.shape.openTooltip(placeCentre(place));
        document.body.dataset.shownPlace = place.name;
      }));
      list.querySelectorAll("button.create-here").forEach(button => button.addEventListener("click", () => createAt(placeCentre(found[Number(button.dataset.index)]))));
    });
    function live() {
      const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/live");
      socket.onopen = () => { document.getElementById("live").textContent = "● 实时 live"; };
      socket.onclose = () => { document.getElementById("live").textContent = "○ 重连 reconnecting"; setTimeout(live, 2000); };
      socket.onmessage = message => {
        const event = JSON.parse(message.data);
        if (event.kind === "position") {
          drawUnit({callSign: event.callSign, position: {latitude: event.latitude, longitude: event.longitude}, positionAt: event.at});
          if (event.at) noteDrawn(Number(event.at));
        }
        if (event.kind === "unit") drawUnit(Object.assign({status: "UNIT_STATUS_OFF_DUTY"}, event.unit));
        if (event.kind === "incident") refreshIncidents();
        if (event.kind === "checkpoint") refreshCheckpoints();
        if (event.kind === "seal") { drawSeal(event.seal); refreshCheckpoints(); }
        if (event.kind === "readiness") drawReadiness(event.readiness);
        if (event.kind === "moveup") drawMoveUp(event.plan);
        if (event.kind === "containment") drawContainment(event.containment);
        if (event.kind === "patrol") notePatrolException(event.exception);
        if (event.kind === "escalation") noteEscalation(event);
      };
    }
    // Open incidents count up from their call; a seal counts up against its target.
    const minutesSeconds = ms => { const s = Math.max(0, Math.floor(ms / 1000)); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`; };
    function tickTimers() {
      const now = Date.now();
      document.querySelectorAll("#incidents td.elapsed").forEach(cell => {
        const since = Number(cell.dataset.since);
        cell.textContent = since ? minutesSeconds(now - since) : "";
      });
      const seal = document.getElementById("seal-clock");
      if (seal && seal.dataset.since) {
        const spent = now - Number(seal.dataset.since), target = Number(seal.dataset.target) * 1000;
        seal.textContent = `${minutesSeconds(spent)} / ${minutesSeconds(target)}`;
        seal.className = spent > target ? "late" : "";
      }
    }
    setInterval(() => { document.getElementById("clock").textContent = china(Date.now()); tickTimers(); }, 1000);
    // Four colours (yesterday's, from Situation): each grid filled with its own.
    const colourStyles = {COLOUR_GREEN: ["#43a047", "绿 green"], COLOUR_YELLOW: ["#fdd835", "黄 yellow"], COLOUR_ORANGE: ["#fb8c00", "橙 orange"], COLOUR_RED: ["#e53935", "红 red"]};
    async function paintColours() {
      const legend = document.getElementById("colour-legend");
      let answer;
      try { answer = await get("/api/colours"); } catch (error) { legend.textContent = "四色预警：暂无 four colours: not available"; return; }
      let painted = 0;
      for (const grid of answer.grids || []) {
        const colour = grid.colour || "COLOUR_GREEN";
        for (const shape of gridShapes[grid.areaId] || []) {
          shape.setStyle({fillColor: colourStyles[colour][0], fillOpacity: 0.3});
          shape.setTooltipContent(`${grid.areaName || names[grid.areaId] || grid.areaId} · ${colourStyles[colour][1]} · ${grid.count || 0} 起 incidents`);
          painted++;
        }
      }
      document.body.dataset.colouredGrids = String(painted);
      // Stations yellow or worse, the worst first: what the duty officer should look at today.
      const rank = {COLOUR_RED: 0, COLOUR_ORANGE: 1, COLOUR_YELLOW: 2};
      const warned = (answer.stations || []).filter(station => station.colour in rank)
        .sort((a, b) => rank[a.colour] - rank[b.colour] || (b.count || 0) - (a.count || 0));
      document.getElementById("warning-day").textContent = answer.day || "";
      document.getElementById("warnings").innerHTML = warned.length ? warned.map(station =>
        `<li class="warning"><span style="background:${colourStyles[station.colour][0]}">&nbsp;&nbsp;</span> ${text(station.areaName || names[station.areaId] || station.areaId)} · ` +
        `${station.count || 0} 起 incidents (常态 usual ${(station.baselineMean || 0).toFixed(1)}) · ${text(colourStyles[station.colour][1])}</li>`).join("")
        : "<li>无预警 no warnings</li>";
      legend.className = "legend";
      legend.innerHTML = `四色 ${text(answer.day || "")}` + Object.values(colourStyles).map(([fill, label]) => `<span style="background:${fill}"></span>${text(label)}`).join("");
    }
    // Hot spots of the last eight weeks (Situation's emerging hot-spot analysis), each
    // 250 m cell coloured by its trend.
    const emergingStyles = {EMERGING_CLASS_NEW: ["#d50000", "新增 new"], EMERGING_CLASS_INTENSIFYING: ["#ff6d00", "加剧 intensifying"],
      EMERGING_CLASS_PERSISTENT: ["#c51162", "持续 persistent"], EMERGING_CLASS_DIMINISHING: ["#5c6bc0", "减弱 diminishing"],
      EMERGING_CLASS_SPORADIC: ["#ffab00", "零星 sporadic"]};
    async function drawHotCells() {
      let answer;
      try { answer = await get("/api/hot-cells"); } catch (error) { return; }
      hotLayer.clearLayers();
      let drawn = 0;
      for (const cell of answer.cells || []) {
        const style = emergingStyles[cell.class];
        if (!style) continue;
        const halfLatitude = 125 / 111320, halfLongitude = 125 / (111320 * Math.cos(cell.latitude * Math.PI / 180));
        L.rectangle([[cell.latitude - halfLatitude, cell.longitude - halfLongitude], [cell.latitude + halfLatitude, cell.longitude + halfLongitude]],
                    {color: style[0], weight: 1, fillOpacity: 0.35, renderer: liveRenderer})
          .bindTooltip(`热点 hot cell · ${style[1]} · ${names[cell.stationId] || cell.stationId || ""} · ${answer.from}–${answer.to}`).addTo(hotLayer);
        drawn++;
      }
      document.body.dataset.hotCells = String(drawn);
    }
    // Each grid by the share of its roads the available units reach within 1, 3 or 5
    // minutes; the county's 1, 3 and 5 minute shares in the legend.
    async function drawCoverage(seconds = 180) {
      const legend = document.getElementById("coverage-legend"), layer = coverageLayers[seconds];
      let answer;
      try { answer = await get("/api/coverage"); } catch (error) { legend.textContent = `覆盖：暂无 coverage: not available (${error.message})`; return; }
      layer.clearLayers();
      let drawn = 0, reached = 0;
      for (const grid of answer.coverage.grids || []) {
        const share = ((grid.shares || []).find(s => s.thresholdSeconds === seconds) || {}).roadShare || 0;
        if (share > 0) reached++;
        const fill = share >= 0.8 ? "#1b5e20" : share >= 0.5 ? "#66bb6a" : share >= 0.2 ? "#ffca28" : "#e53935";
        for (const shape of gridShapes[grid.gridId] || []) {
          L.polygon(shape.getLatLngs(), {color: fill, weight: 0, fillColor: fill, fillOpacity: 0.45, renderer: liveRenderer})
            .bindTooltip(`${names[grid.gridId] || grid.gridId} · ${seconds / 60}分钟 min ${Math.round(share * 100)}%`).addTo(layer);
          drawn++;
        }
      }
      const overall = (answer.coverage.overall || []).map(s => `${Math.round((s.thresholdSeconds || 0) / 60)} 分钟 min ${Math.round((s.roadShare || 0) * 100)}%`);
      legend.textContent = `覆盖 coverage (${answer.units} 个空闲单位 available units, 道路 of roads): ${overall.join(" · ")}`;
      Object.assign(document.body.dataset, {coveredGrids: String(drawn), reachedGrids: String(reached), coverageUnits: String(answer.units)});
    }
    // Members' open tips (duty officers and chiefs only): what was seen, where and when; moved
    // on with a reason, and forwarded ones become Dispatch's incidents through Community.
    const tipStatus = {TIP_STATUS_SUBMITTED: "新报 submitted", TIP_STATUS_VERIFYING: "核实中 verifying", TIP_STATUS_VERIFIED: "已核实 verified"};
    const tipNext = {TIP_STATUS_SUBMITTED: [["verifying", "核实 verify"], ["dismissed", "不采纳 dismiss"]],
      TIP_STATUS_VERIFYING: [["verified", "属实 confirmed"], ["dismissed", "不采纳 dismiss"]],
      TIP_STATUS_VERIFIED: [["forwarded", "转警情 to an incident"], ["dismissed", "不采纳 dismiss"]]};
    async function refreshTips() {
      const body = document.getElementById("tips");
      if (!body) return;
      let answer;
      try { answer = await get("/api/tips"); } catch (error) { body.innerHTML = `<tr><td>${text(error.message)}</td></tr>`; return; }
      const tips = answer.tips || [];
      tipLayer.clearLayers();
      for (const tip of tips) {
        L.circleMarker([tip.latitude, tip.longitude], {radius: 6, color: "#6a1b9a", fillOpacity: 0.5, renderer: liveRenderer}).bindTooltip(`${tip.id} ${tip.text}`).addTo(tipLayer);
      }
      body.innerHTML = tips.length ? tips.map(tip => `<tr id="tip-${text(tip.id)}"><td>${text(tip.id)}</td><td title="${text(tip.text)}">${text(tip.text)}</td>` +
        `<td>${text(tipStatus[tip.status] || tip.status || "")}</td><td>${text(china(tip.observedAt))}</td><td>` +
        (tipNext[tip.status] || []).map(([to, label]) => `<button class="tip" data-tip="${text(tip.id)}" data-to="${to}">${text(label)}</button>`).join(" ") + "</td></tr>").join("")
        : "<tr><td>暂无 none open</td></tr>";
      body.querySelectorAll("button.tip").forEach(button => button.addEventListener("click", async () => {
        const why = window.prompt("原因 Why?", "");
        if (!why) return;
        try {
          const answer = await post(`/api/tips/${encodeURIComponent(button.dataset.tip)}`, {status: button.dataset.to, why});
          document.getElementById("hint").textContent = `${answer.tip.id} → ${button.dataset.to}${answer.tip.incidentId ? " · " + answer.tip.incidentId : ""}`;
          if (answer.tip.incidentId) refreshIncidents();
        } catch (error) { document.getElementById("hint").textContent = error.message; }
        refreshTips();
      }));
      document.body.dataset.tips = String(tips.length);
    }
    // Video patrol's cameras by their grade in force (Patrol re-grades them from the hot cells).
    const cameraGrades = {CAMERA_GRADE_KEY: ["#b71c1c", "重点 key"], CAMERA_GRADE_ATTENTION: ["#ef6c00", "关注 attention"], CAMERA_GRADE_GENERAL: ["#757575", "一般 general"]};
    async function drawCameras() {
      let answer;
      try { answer = await get("/api/cameras"); } catch (error) { return; }
      cameraLayer.clearLayers();
      for (const camera of answer.cameras || []) {
        const [colour, grade] = cameraGrades[camera.grade] || cameraGrades.CAMERA_GRADE_GENERAL;
        L.circleMarker([camera.position.latitude, camera.position.longitude], {radius: 2.5, weight: 1, color: colour, fillOpacity: 0.9, renderer: liveRenderer})
          .bindTooltip(`${camera.name} · ${grade}${camera.gradeReason ? " · " + camera.gradeReason : ""}`).addTo(cameraLayer);
      }
      document.body.dataset.cameras = String((answer.cameras || []).length);
    }
    // The shift under way (Patrol's compliance so far): by station, the must-patrol points
    // visited of those assigned and the share of the lines driven; on the map each assigned
    // point green once visited, orange until then.
    async function refreshPatrol() {
      const body = document.getElementById("patrol");
      let answer;
      try { answer = await get("/api/patrol"); } catch (error) { body.innerHTML = `<tr><td>暂无 not available: ${text(error.message)}</td></tr>`; return; }
      const byStation = {}, visited = {};
      for (const unit of answer.units || []) {
        const row = byStation[unit.stationId || ""] = byStation[unit.stationId || ""] || {units: 0, visited: 0, required: 0, metres: 0, driven: 0};
        row.units++;
        for (const point of unit.points || []) {
          row.required++;
          if (point.visitedAt) row.visited++;
          visited[point.siteId] = visited[point.siteId] || Boolean(point.visitedAt);
        }
        for (const line of unit.lines || []) { row.metres += line.metres || 0; row.driven += (line.share || 0) * (line.metres || 0); }
      }
      const stationName = id => names[id] || id || "-";
      const rows = Object.entries(byStation).sort(([a], [b]) => stationName(a).localeCompare(stationName(b), "zh"));
      body.innerHTML = rows.length ? rows.map(([station, row]) => `<tr class="patrol-station"><td>${text(stationName(station))}</td><td>${row.units}</td>` +
        `<td>${row.visited} / ${row.required}</td><td>${row.metres ? percent(row.driven / row.metres) : "-"}</td></tr>`).join("") : `<tr><td colspan="4">本班暂无巡逻 no unit on patrol this shift${answer.note ? " · " + text(answer.note) : ""}</td></tr>`;
      document.getElementById("patrol-shift").textContent = answer.shiftStart
        ? `${chinaMinute.format(new Date(Number(answer.shiftStart)))}–${chinaMinute.format(new Date(Number(answer.shiftEnd)))}` : "";
      patrolLayer.clearLayers();
      for (const [id, done] of Object.entries(visited)) {
        const site = sites[id];
        if (!site || !site.position) continue;
        L.circleMarker([site.position.latitude, site.position.longitude], {radius: 7, weight: 2, color: done ? "#2e7d32" : "#ef6c00", fillOpacity: 0, renderer: liveRenderer})
          .bindTooltip(`${site.name} · ${done ? "本班已巡 visited this shift" : "本班未巡 not yet this shift"}`).addTo(patrolLayer);
      }
      Object.assign(document.body.dataset, {patrolUnits: String((answer.units || []).length), patrolPoints: String(Object.keys(visited).length)});
    }
    // 升级: what needs the duty officer now, newest first: an incident whose units did not
    // acknowledge in turn (Dispatch), a seal position not in place by the target (CheckpointControl).
    const escalations = [];
    function noteEscalation(event) {
      const line = event.incident
        ? `警情 incident ${event.incident.incident.id} ${event.incident.incident.typeName || event.incident.incident.typeCode || ""} · ` +
          `未确认 not acknowledged: ${(event.incident.unacknowledged || []).join(", ") || "-"} · ${event.incident.reason || ""}`
        : `封控 seal ${event.seal.planName || event.seal.activation}${event.seal.drill ? " (演练 drill)" : ""} · ` +
          `${(event.seal.position && (event.seal.position.name || event.seal.position.id)) || ""} · ${event.seal.reason || ""}`;
      escalations.unshift(`<li class="escalation">${text(chinaMinute.format(new Date()))} ${text(line)}</li>`);
      escalations.splice(20);
      document.getElementById("escalations").innerHTML = `<h2>升级 Escalations</h2><ul>${escalations.join("")}</ul>`;
    }
    // What Patrol flags as it happens: a terminal gone silent, a shift ended with points or lines undone.
    const patrolExceptions = [];
    function notePatrolException(exception) {
      patrolExceptions.unshift(exception);
      patrolExceptions.splice(50);
      const kinds = {silent: "失联 silent", shortfall: "未完成 shortfall"};
      document.getElementById("patrol-exceptions").innerHTML = patrolExceptions.map(e =>
        `<li class="patrol-exception">${text(kinds[e.kind] || e.kind || "")} · ${text(e.callSign || "")} · ${text(china(e.at))} · ${text(e.note || "")}</li>`).join("");
    }
    // The community's last day: alerts to members counted by station (nobody named), and
    // the watches still open, each on the map where it was called.
    async function refreshCommunity() {
      const list = document.getElementById("community");
      let answer;
      try { answer = await get("/api/community"); } catch (error) { list.innerHTML = `<li>暂无 not available: ${text(error.message)}</li>`; return; }
      const stations = answer.stations || [], watches = answer.watches.watches || [];
      list.innerHTML = stations.length ? stations.map(s => `<li class="community-station">${text(names[s.station] || s.station || "-")} · ${s.alerts} 条预警 alerts` +
        ` (${s.delivered} 已送达 delivered) · ${text(s.headline || "")}</li>`).join("") : "<li>24小时无预警 no alerts in 24 h</li>";
      document.getElementById("watches").innerHTML = watches.map(w => `<li class="watch">守望 watch ${text(w.id)} · ${text(w.typeName || w.typeCode || "")} · ` +
        `${text(names[w.stationId] || w.stationId || "")} · ${w.alerts || 0} 人 members alerted · 至 until ${text(chinaMinute.format(new Date(Number(w.expires || 0))))}</li>`).join("");
      watchLayer.clearLayers();
      for (const w of watches) {
        L.circleMarker([w.latitude, w.longitude], {radius: 12, weight: 2, dashArray: "4", color: "#00838f", fillOpacity: 0.1, renderer: liveRenderer})
          .bindTooltip(`守望 watch ${w.id} · ${w.description || w.typeName || ""}`).addTo(watchLayer);
      }
      Object.assign(document.body.dataset, {communityStations: String(stations.length), watches: String(watches.length)});
    }
    map.on("overlayadd", event => {
      for (const [seconds, layer] of Object.entries(coverageLayers)) if (event.layer === layer) drawCoverage(Number(seconds));
      if (event.layer === cameraLayer) drawCameras();
    });
    const checkpointStatus = {CHECKPOINT_STATUS_OPEN: "开放 open", CHECKPOINT_STATUS_ALERT: "戒备 alert", CHECKPOINT_STATUS_SEALED: "封控 sealed",
      CHECKPOINT_STATUS_STAND_DOWN: "解除 stand down", CHECKPOINT_STATUS_UNSTAFFED: "无人 unstaffed"};
    async function refreshCheckpoints() {
      let answer;
      try { answer = await get("/api/checkpoints"); } catch (error) { return; }
      document.getElementById("checkpoint-day").textContent = answer.board.day || "";
      document.getElementById("checkpoints").innerHTML = (answer.board.rows || []).map(row =>
        `<tr id="checkpoint-${text(row.checkpoint.id)}"><td>${text(row.checkpoint.name)}</td><td>${text(checkpointStatus[row.checkpoint.status] || row.checkpoint.status || "")}</td>` +
        `<td>${row.vehiclesToday || 0}</td><td>${text(row.lastReportAt ? china(row.lastReportAt) : "-")}</td></tr>`).join("");
      sealPlans = answer.plans.plans || [];
      document.getElementById("seal-plans").innerHTML = sealPlans.map(plan =>
        `<li>${text(plan.name)} · ${(plan.positions || []).length} 个位置 positions · ${Math.round((plan.targetSeconds || 180) / 60)} 分钟 min ` +
        (sealActs ? `<button class="activate" data-plan="${text(plan.id)}" data-drill="false">启动 Activate</button> <button class="activate" data-plan="${text(plan.id)}" data-drill="true">演练 Drill</button>` : "") +
        `<br><span class="readiness" id="readiness-${text(plan.id)}">${readinessLine(readiness[plan.id])}</span></li>`).join("");
      document.querySelectorAll("#seal-plans button.activate").forEach(button => button.addEventListener("click", async () => {
        const drill = button.dataset.drill === "true";
        const reason = window.prompt(drill ? "演练原因 Why this drill?" : "封控原因 Why seal? (e.g. 持刀抢劫 armed robbery)", drill ? "drill" : "");
        if (!reason) return;
        try { drawSeal(await post(`/api/seal-plans/${encodeURIComponent(button.dataset.plan)}/activate`, {drill, reason})); }
        catch (error) { document.getElementById("seal").textContent = error.message; }
      }));
    }
    // 调防建议: after a dispatch, the moves that give back the 3-minute coverage it took away.
    const percent = share => `${Math.round((share || 0) * 100)}%`;
    function drawMoveUp(plan) {
      const box = document.getElementById("moveup");
      const moves = plan.moves || [];
      box.innerHTML = `<h2>调防建议 Move-up ${text(plan.incidentId || "")}</h2>` +
        `<p>3分钟必巡点覆盖 patrol points in 3 min: ${percent(plan.coverageBefore)} → ${percent(plan.coverageNow)} → ${percent(plan.coverageAfter)}` +
        ` · 核心区 core ${percent(plan.coreCoverageBefore)} → ${percent(plan.coreCoverageNow)} → ${percent(plan.coreCoverageAfter)}</p>` +
        (moves.length ? `<ol id="moves">${moves.map(move => `<li>${text(move.callSign)} → ${(move.to && move.to.latitude || 0).toFixed(4)}, ${(move.to && move.to.longitude || 0).toFixed(4)}</li>`).join("")}</ol>` : "") +
        `<p>${text(plan.note || "")}${plan.expiresAt ? ` · 有效至 until ${chinaMinute.format(new Date(Number(plan.expiresAt)))}` : ""}</p>` +
        (sealActs && plan.planId && moves.length ? `<button id="accept-moveup" data-plan="${text(plan.planId)}">采纳 Accept</button>` : "");
      const button = document.getElementById("accept-moveup");
      if (button) button.addEventListener("click", async () => {
        let line;
        try {
          const answer = await post(`/api/moveup/${encodeURIComponent(button.dataset.plan)}/accept`, {});
          line = `已下令 ordered: ${(answer.orders || []).map(order => order.callSign).join(", ") || "-"}` + ((answer.refused || []).length ? ` · 未能 refused: ${answer.refused.join("; ")}` : "");
        } catch (error) { line = error.message; }
        button.insertAdjacentHTML("afterend", `<p id="moveup-result">${text(line)}</p>`);
        button.remove();
      });
    }
    // 动态围堵: each live containment as CheckpointControl recomputes it from the units' positions:
    // the ring's points (who holds each, seconds before the suspect can be there), or, when no
    // ring can be held, the points it would need; gone when it stops.
    const containments = {};
    function drawContainment(containment) {
      const known = containments[containment.id] = containments[containment.id] || {layer: L.layerGroup().addTo(containmentLayer)};
      known.layer.clearLayers();
      const ring = containment.ring || {}, held = ring.ring || [], needed = ring.needed || [];
      if (containment.active) {
        for (const point of held.length ? held : needed) {
          const spare = (point.suspect || 0) - (point.police || 0);
          L.circleMarker([point.latitude, point.longitude], {radius: 7, weight: 3, color: held.length ? (spare >= 30 ? "#1565c0" : "#ef6c00") : "#b71c1c",
                                                             fillOpacity: held.length ? 0.6 : 0, renderer: liveRenderer})
            .bindTooltip(`${point.unit || "需要 needed"} · ${point.roadName || point.node} · ${Math.round(spare)} s`).addTo(known.layer);
        }
      }
      known.row = `<li id="containment-${text(containment.id)}">${text(containment.id)} · ` + (containment.active
        ? (ring.feasible ? `可围堵 ring held by ${held.length} · ${containment.units || 0} 单位 units` : `无法围堵 no ring: ${text(ring.reason || "")} · 需 ${needed.length} 点 points needed`)
        : `已结束 ended: ${text(containment.endedReason || "")}`) + ` · ${chinaMinute.format(new Date(Number(containment.computedAt || Date.now())))}</li>`;
      document.getElementById("containments").innerHTML = `<h2>动态围堵 Containment</h2><ul>${Object.values(containments).map(entry => entry.row).join("")}</ul>`;
      document.body.dataset.containmentPoints = String(Object.values(containments).reduce((sum, entry) => sum + entry.layer.getLayers().length, 0));
    }
    // 就绪: how the plan would go if activated now, and who stands by (备勤) for which position.
    function readinessLine(ready) {
      if (!ready) return "就绪 readiness: 评估中 assessing…";
      const positions = ready.positions || [];
      const expected = ready.expectedSeconds < 0 ? "有位置无人可达 a position no unit can reach" : `预计 expected ${Math.round(ready.expectedSeconds || 0)} s`;
      const standing = positions.filter(p => p.standby).map(p => `${text(p.standby)} → ${text(p.name || p.id)}`);
      const late = (ready.expectedSeconds < 0 || ready.expectedSeconds > (ready.targetSeconds || 180)) ? ' class="late"' : "";
      return `就绪 readiness: <span${late}>${ready.covered || 0}/${positions.length} 到位 covered · ${expected}</span> (${chinaMinute.format(new Date(Number(ready.at)))})` +
        (standing.length ? ` · 备勤 standing by: ${standing.join(", ")}` : "");
    }
    function drawReadiness(ready) {
      readiness[ready.plan] = ready;
      const line = document.getElementById(`readiness-${ready.plan}`);
      if (line) line.innerHTML = readinessLine(ready);
    }
    // The seal under way: who is in position, against the target.
    function drawSeal(seal) {
      const positions = seal.positions || [];
      const inPosition = positions.filter(p => p.inPositionAt).length;
      const state = {SEAL_STATE_SEALING: "封控中 sealing", SEAL_STATE_SEALED: "已封控 sealed", SEAL_STATE_STOOD_DOWN: "已解除 stood down"}[seal.state] || "";
      const done = seal.sealedAt || seal.endedAt;
      document.getElementById("seal").innerHTML = `<h2>${seal.drill ? "演练 Drill · " : ""}${text(seal.planName || seal.plan)} <span id="seal-state">${text(state)}</span></h2>` +
        `<p>就位 in position <strong id="seal-count">${inPosition} / ${positions.length}</strong> · ` +
        (done ? `${minutesSeconds((seal.sealedAt || seal.endedAt) - seal.activatedAt)}` : `<span id="seal-clock" data-since="${Number(seal.activatedAt)}" data-target="${seal.targetSeconds || 180}"></span>`) +
        ` · ${text(seal.activatedBy || "")}: ${text(seal.reason || "")}</p>` +
        (sealActs && seal.state !== "SEAL_STATE_STOOD_DOWN" ? `<button id="stand-down" data-activation="${text(seal.id)}">解除 Stand down</button>` : "");
      const button = document.getElementById("stand-down");
      if (button) button.addEventListener("click", async () => {
        const reason = window.prompt("解除原因 Why stand down?", "");
        if (!reason) return;
        try { drawSeal(await post(`/api/seals/${encodeURIComponent(button.dataset.activation)}/stand-down`, {reason})); }
        catch (error) { document.getElementById("seal").insertAdjacentHTML("beforeend", `<p class="error">${text(error.message)}</p>`); }
      });
      tickTimers();
    }
    (async () => {
      await drawCounty();
      // When the county is on screen: the frame after the one that drew it.
      requestAnimationFrame(() => setTimeout(() => { document.body.dataset.painted = String(Math.round(performance.now())); }));
      await refreshUnits();
      await refreshIncidents();
      await Promise.all([paintColours(), refreshCheckpoints(), drawHotCells(), refreshTips(), refreshPatrol(), refreshCommunity()]);
      document.body.dataset.readyAt = String(Math.round(performance.now()));
      document.body.dataset.ready = "true";
      live();
      // Situation colours each day after midnight and its hot spots move slowly: looked at again every ten minutes.
      setInterval(() => { paintColours(); drawHotCells(); }, 10 * 60 * 1000);
      setInterval(refreshTips, 30 * 1000);
      setInterval(() => { refreshPatrol(); refreshCommunity(); }, 60 * 1000);
    })();
    """#
}
