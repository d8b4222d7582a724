/// The built-in demo county `xunfang up` runs when no config is given: every plugin
/// that exists so far, data in ./data, credentials generated on first start.
enum DemoCounty {
    static let yaml = """
    # Xunfang demo county. Copy this file, edit it, and run `xunfang up --config county.yaml`.
    county: Demo County
    data_dir: data
    bus:
      socket: bus.sock
      # tcp: 127.0.0.1:7420
      durable_topics: ["incident.>", "dispatch.order.>", "dispatch.escalation", "situation.warning", "situation.deployment", "community.alert.>",
                       "community.compliance.>", "checkpoint.order.>", "checkpoint.escalation", "patrol.assignment.>", "patrol.exception"]
      ping_interval_ms: 5000
      metrics: 127.0.0.1:9464   # Prometheus text at /metrics
      # How long the durable log keeps messages (first match wins; others: 30 days).
      # discard: old drops the oldest at a limit, new refuses new publishes.
      retention:
        - { topics: "incident.>", max_age_days: 90, max_bytes: 2147483648, discard: old }
        - { topics: "dispatch.order.>", max_age_days: 30 }
        - { topics: "dispatch.escalation", max_age_days: 30 }
        - { topics: "situation.warning", max_age_days: 30 }
        - { topics: "community.alert.>", max_age_days: 7 }
        - { topics: "community.compliance.>", max_age_days: 90 }
        - { topics: "checkpoint.order.>", max_age_days: 30 }
        - { topics: "checkpoint.escalation", max_age_days: 30 }
        - { topics: "situation.deployment", max_age_days: 7 }
        - { topics: "patrol.assignment.>", max_age_days: 7 }
        - { topics: "patrol.exception", max_age_days: 30 }
    plugins:
      - name: template
        acl:
          publish: ["template.>"]
          subscribe: ["template.>"]
          serve: ["/xunfang.template.v1.Template/*"]
      - name: grid-model
        acl:
          publish: ["grid.>"]
          serve: ["/xunfang.grid_model.v1.GridModel/*"]
      - name: dispatch
        acl:
          publish: ["incident.>", "dispatch.>", "unit.status"]
          subscribe: ["unit.position"]
          serve: ["/xunfang.dispatch.v1.Dispatch/*"]
          call: ["/xunfang.grid_model.v1.GridModel/*", "/xunfang.checkpoint.v1.Checkpoint/Activate", "/xunfang.community.v1.Community/RequestWatch"]
      - name: situation
        # tools/up imports 400 days of the demo county's incidents into an empty history;
        # env: { SITUATION_DEMO_HISTORY_DAYS: "400" } does the same from the plugin.
        acl:
          publish: ["situation.>"]
          subscribe: ["incident.>"]
          serve: ["/xunfang.situation.v1.Situation/*"]
          call: ["/xunfang.grid_model.v1.GridModel/Locate", "/xunfang.grid_model.v1.GridModel/ListAreas", "/xunfang.dispatch.v1.Dispatch/ListUnits"]
      - name: checkpoint
        # An empty registry takes GridModel's 8 checkpoints and 5 city exits, and the town's
        # seal plan TOWN (关城门·城区) is drafted on the roads.
        env: { CHECKPOINT_SEED_FROM_GRID: "on" }
        acl:
          publish: ["checkpoint.>"]
          subscribe: ["unit.position"]
          serve: ["/xunfang.checkpoint.v1.Checkpoint/*"]
          call: ["/xunfang.grid_model.v1.GridModel/ListSites", "/xunfang.grid_model.v1.GridModel/ListAreas", "/xunfang.dispatch.v1.Dispatch/ListUnits"]
      - name: community
        # Members' names and phones are sealed at rest (data/community.key, 0600); only a
        # client granted /xunfang.community.v1.Community/ReadContact reads them, audited.
        # Situation's warnings become targeted alerts: CAP 1.2 files in data/community/alerts.
        # An empty store takes the demo county's 12 station and 129 village teams.
        # Verified tips are forwarded to Dispatch's Intake as incidents (source: tip).
        # Dispatch's MajorIncident with watch_hours opens a watch and report (协查) on the
        # roads within 5 minutes' drive (GridModel's isochrone).
        # Duty rules (village officers 20 h a week, chiefs a day a month in a police room,
        # rooms day and night) on three weeks of demo duty records: xunfang community compliance.
        env: { COMMUNITY_DEMO_LEDGER: "on" }
        acl:
          publish: ["community.>"]
          subscribe: ["situation.warning"]
          serve: ["/xunfang.community.v1.Community/*"]
          call: ["/xunfang.grid_model.v1.GridModel/ListAreas", "/xunfang.grid_model.v1.GridModel/Locate", "/xunfang.grid_model.v1.GridModel/Isochrone",
                 "/xunfang.dispatch.v1.Dispatch/Intake"]
      - name: patrol
        # Duty rosters: four teams in three rotations (四班三运转); an empty roster takes
        # Dispatch's units, each station's in turn into the teams. xunfang patrol on-duty
        # says who is on shift now, xunfang patrol roster the calendar. Dispatch's units go
        # on and off duty with their shifts (PATROL_DRIVES_DISPATCH). Officers' terminals
        # report through a gateway (Patrol's Report and Act): positions go out on
        # unit.position, actions become Dispatch's calls; xunfang patrol terminals shows them,
        # and an on-duty unit quiet for 5 minutes is announced on patrol.exception. At each
        # shift start Situation's plan becomes the units' assignments (grids, must-patrol
        # points and lines, dosage stops) on patrol.assignment.<unit>: xunfang patrol assignments.
        # Compliance from the terminals' fixes (points visited, lines covered, dosage minutes,
        # time per grid): xunfang patrol compliance; each closed shift's shortfalls go out
        # on patrol.exception.
        # Video patrol: 1,800 demo cameras at junctions and along roads, graded key /
        # attention / general and re-graded from each plan's hot cells (xunfang patrol cameras);
        # the desk's schedule (xunfang patrol video-schedule); xunfang patrol seen-on-camera
        # makes an incident at the camera through Dispatch's intake.
        env: { PATROL_DEMO_TEAMS: "on", PATROL_DEMO_CAMERAS: "on" }
        acl:
          publish: ["unit.position", "patrol.>"]
          subscribe: ["situation.deployment", "checkpoint.readiness"]
          serve: ["/xunfang.patrol.v1.Patrol/*"]
          call: ["/xunfang.dispatch.v1.Dispatch/ListUnits", "/xunfang.dispatch.v1.Dispatch/UpdateUnit", "/xunfang.dispatch.v1.Dispatch/Acknowledge",
                 "/xunfang.dispatch.v1.Dispatch/Clear", "/xunfang.dispatch.v1.Dispatch/Intake", "/xunfang.situation.v1.Situation/Plan", "/xunfang.grid_model.v1.GridModel/ListSites",
                 "/xunfang.grid_model.v1.GridModel/ListAreas"]
      - name: console
        # The duty officer's console in a browser: http://127.0.0.1:7480/ (loopback only).
        # Officers duty (duty officer) and viewer, their passwords in
        # data/console/officers-demo.txt; more with xunfang console officer --name N --role
        # duty|chief|analyst|viewer < password-file. Who did what: xunfang console audit.
        env: { CONSOLE_DEMO_OFFICERS: "on" }
        acl:
          subscribe: ["unit.position", "unit.status", "incident.>", "checkpoint.status", "checkpoint.seal", "checkpoint.containment", "dispatch.moveup", "patrol.exception", "dispatch.escalation", "checkpoint.escalation",
                      "checkpoint.readiness"]
          call: ["/xunfang.dispatch.v1.Dispatch/Intake", "/xunfang.dispatch.v1.Dispatch/Recommend", "/xunfang.dispatch.v1.Dispatch/Assign",
                 "/xunfang.dispatch.v1.Dispatch/ListIncidents", "/xunfang.dispatch.v1.Dispatch/ListUnits", "/xunfang.dispatch.v1.Dispatch/ReadPersonal", "/xunfang.dispatch.v1.Dispatch/MajorIncident",
                 "/xunfang.grid_model.v1.GridModel/ListAreas", "/xunfang.grid_model.v1.GridModel/ListSites", "/xunfang.grid_model.v1.GridModel/Roads", "/xunfang.grid_model.v1.GridModel/Coverage", "/xunfang.grid_model.v1.GridModel/Locate",
                 "/xunfang.situation.v1.Situation/Colours", "/xunfang.situation.v1.Situation/Emerging", "/xunfang.checkpoint.v1.Checkpoint/Board", "/xunfang.checkpoint.v1.Checkpoint/ListPlans",
                 "/xunfang.checkpoint.v1.Checkpoint/Activate", "/xunfang.checkpoint.v1.Checkpoint/StandDown", "/xunfang.patrol.v1.Patrol/Cameras", "/xunfang.patrol.v1.Patrol/Compliance",
                 "/xunfang.community.v1.Community/ListTips", "/xunfang.community.v1.Community/UpdateTip", "/xunfang.community.v1.Community/ListAlerts", "/xunfang.community.v1.Community/ListWatches"]
      - name: terminal
        # The demo county has no real terminals: this simulates them. Every on-duty unit
        # patrols its beat on the roads and reports every 5 s through Patrol's gateway (GPS
        # error 8 m); it acknowledges Dispatch's orders, drives to the scene, works the
        # incident, clears it and goes back in service. xunfang terminal simulate runs the
        # same against any stack.
        acl:
          subscribe: ["dispatch.order.>", "patrol.assignment.>", "checkpoint.order.>"]
          call: ["/xunfang.patrol.v1.Patrol/Report", "/xunfang.patrol.v1.Patrol/Act", "/xunfang.patrol.v1.Patrol/OnDuty",
                 "/xunfang.dispatch.v1.Dispatch/ListUnits", "/xunfang.grid_model.v1.GridModel/ListSites",
                 "/xunfang.checkpoint.v1.Checkpoint/Acknowledge"]
    clients:
      # `xunfang ctl` connects as this client; its credential is generated into data/credentials/ctl.
      - name: ctl
        acl:
          publish: [">"]
          subscribe: [">"]
          call: ["*"]
    """
}
