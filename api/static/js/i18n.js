// Interface strings in Chinese and English.  The advice itself comes from the API already in
// both languages (response.message.zh / .en); these are the labels around it.

export const LANGS = ["zh", "en"];

// BCP 47 tags for <html lang> and for speech synthesis.
export const SPEECH_LANG = { zh: "zh-CN", en: "en-US" };

const STRINGS = {
  zh: {
    title: "绿波车速",
    ts_legend: "时间 ↑ · 距离 → · 绿色扇区:绿波车速",
    live: "实时",
    replay: "回放",
    mute: "静音",
    unmute: "取消静音",
    m: "米",
    to_next: "距前方路口",
    band_label: "绿波速度区间",
    your_speed: "当前车速",
    route: "路线",
    rate: "回放倍速",
    idle_replay: "选择路线,点击“开始”:一辆模拟车按建议车速行驶",
    idle_live: "点击“开始”,按本机定位获取绿波车速",
    start_time: "开始时间",
    start_placeholder: "留空:按服务器时钟",
    start: "开始",
    stop: "停止",
    live_hint: "使用本机定位(需要 HTTPS 或 localhost)",
    live_waiting: "等待定位…",
    live_heading: "已定位,行驶后才能确定方向",
    live_insecure: "浏览器只在 HTTPS 或 localhost 页面提供定位",
    live_unsupported: "此浏览器不支持定位",
    live_denied: "定位权限被拒绝",
    live_error: "定位失败:{msg}",
    gps_jump: "定位跳变,已忽略此点",
    link_open: "推送",
    link_open_title: "已连接推送通道:配时变化时立即更新",
    link_connecting: "连接中",
    link_connecting_title: "正在连接推送通道;定位经 HTTP 发送",
    link_closed: "HTTP",
    link_closed_title: "推送通道已断开,正在重连;定位经 HTTP 发送",
    no_band: "暂无绿波车速",
    prepare_to_stop: "准备停车",
    proceed: "保持当前车速",
    off_network: "不在路网上",
    no_signal: "前方无信号灯",
    arrived: "已到达路线终点",
    s: "秒",
    red: "红灯",
    amber: "黄灯",
    green: "绿灯",
    option_1: "下一个路口",
    option: "连续 {n} 个路口",
    option_none: "—",
    plan_cruise: "保持 {hold} km/h,约 {arr} 秒后通过路口",
    plan_slow_down: "减速至 {hold} km/h,距路口 {resume} 米时加速至 {cross} km/h",
    plan_speed_up: "提速至 {hold} km/h 可赶上本次绿灯",
    plan_eco_stop: "距路口 {lift} 米时松开油门,平稳减速停车",
    err_http: "服务器返回 {status}:{detail}",
    err_network: "无法连接服务器:{detail}",
    err_start: "开始时间无效:{value}(请用 ISO 8601,如 2026-11-23T07:30:00+08:00,或留空表示现在)",
    route_name: "{dir} · {first} → {last} · {n} 个信号灯 · {km} km",
    dir_N: "北向",
    dir_NE: "东北向",
    dir_E: "东向",
    dir_SE: "东南向",
    dir_S: "南向",
    dir_SW: "西南向",
    dir_W: "西向",
    dir_NW: "西北向",
  },
  en: {
    title: "Green wave",
    ts_legend: "time ↑ · distance → · green wedge: the band",
    live: "Live",
    replay: "Replay",
    mute: "Mute",
    unmute: "Unmute",
    m: "m",
    to_next: "to the next intersection",
    band_label: "Green-wave speed",
    your_speed: "Your speed",
    route: "Route",
    rate: "Replay speed",
    idle_replay: "Pick a route and press Start: a simulated car drives it at the advised speed",
    idle_live: "Press Start for advice at this device's position",
    start_time: "Start time",
    start_placeholder: "empty: the server's clock",
    start: "Start",
    stop: "Stop",
    live_hint: "Uses this device's location (needs HTTPS or localhost)",
    live_waiting: "Waiting for a position…",
    live_heading: "Position found; the direction is known once you move",
    live_insecure: "Browsers give the location only to HTTPS or localhost pages",
    live_unsupported: "This browser has no geolocation",
    live_denied: "Location permission denied",
    live_error: "Location failed: {msg}",
    gps_jump: "Position jumped; fix ignored",
    link_open: "push",
    link_open_title: "Push channel open: new timing reaches the screen at once",
    link_connecting: "connecting",
    link_connecting_title: "Opening the push channel; fixes go by HTTP meanwhile",
    link_closed: "HTTP",
    link_closed_title: "Push channel lost, reconnecting; fixes go by HTTP meanwhile",
    no_band: "No green-wave speed",
    prepare_to_stop: "Prepare to stop",
    proceed: "Keep your speed",
    off_network: "Not on the road network",
    no_signal: "No signal ahead",
    arrived: "End of the route",
    s: "s",
    red: "red",
    amber: "amber",
    green: "green",
    option_1: "Next light",
    option: "Next {n} lights",
    option_none: "—",
    plan_cruise: "Keep {hold} km/h: at the line in {arr} s",
    plan_slow_down: "Slow to {hold} km/h; speed up to {cross} km/h {resume} m before the line",
    plan_speed_up: "Speed up to {hold} km/h to make this green",
    plan_eco_stop: "Lift off {lift} m before the line and coast to a stop",
    err_http: "The server answered {status}: {detail}",
    err_network: "Cannot reach the server: {detail}",
    err_start:
      "Invalid start time: {value} (ISO 8601, e.g. 2026-11-23T07:30:00+08:00, or empty for now)",
    route_name: "{dir} · {first} → {last} · {n} signals · {km} km",
    dir_N: "northbound",
    dir_NE: "north-eastbound",
    dir_E: "eastbound",
    dir_SE: "south-eastbound",
    dir_S: "southbound",
    dir_SW: "south-westbound",
    dir_W: "westbound",
    dir_NW: "north-westbound",
  },
};

/** The string `key` in `lang` with `{name}` placeholders filled from `vars`. */
export function t(lang, key, vars = {}) {
  const s = STRINGS[lang]?.[key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/** Fill every element carrying data-i18n (text), data-i18n-title or data-i18n-placeholder. */
export function applyStatic(root, lang) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(lang, el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) {
    el.title = t(lang, el.dataset.i18nTitle);
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(lang, el.dataset.i18nPlaceholder);
  }
}
