// teledesk Mini App: files a support ticket from a Telegram chat.
// Plain ES2020, no framework, no external resources (CSP: script-src 'self', style-src 'self').

// ---------------------------------------------------------------------------------------------
// Strings: every UI text, both languages, in one table.

const plural = (n, one, few, many) => {
  const m10 = n % 10;
  const m100 = n % 100;
  if (m10 === 1 && m100 !== 11) return one;
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return few;
  return many;
};

const STRINGS = {
  ru: {
    loading: 'Загрузка…',
    page_title: 'Новая заявка',
    header_sub: 'Заявки в службу поддержки',
    tabs_label: 'Разделы',
    tab_new: 'Новая заявка',
    tab_open: 'Открытые заявки',
    tab_last: 'Последние',
    last_label: 'Сколько показать',
    last_10: 'Последние 10',
    last_20: 'Последние 20',
    company: 'Компания',
    company_choose: 'Выберите компанию',
    subject: 'Тема',
    subject_placeholder: 'Коротко: что случилось',
    description: 'Описание',
    description_placeholder: 'Подробности: что делали, что видите, как срочно',
    optional: '(необязательно)',
    category: 'Категория',
    choose: 'Выберите',
    example: (e) => `Например: ${e}`,
    err_required: (label) => `Заполните поле «${label}».`,
    files: 'Файлы',
    files_add: 'Прикрепить файлы',
    files_hint: (n, size) => `До ${n} ${plural(n, 'файла', 'файлов', 'файлов')}, до ${size} каждый`,
    file_remove: (name) => `Убрать файл ${name}`,
    err_file_type: (name) => `«${name}»: файлы такого типа не принимаются.`,
    err_file_size: (name, max) => `«${name}» больше ${max}.`,
    err_file_count: (n) => `Можно приложить не больше ${n} ${plural(n, 'файла', 'файлов', 'файлов')}.`,
    err_file_total: (max) => `Все файлы вместе — не больше ${max}.`,
    err_subject: 'Укажите тему заявки.',
    err_company: 'Выберите компанию.',
    submit: 'Отправить',
    sending: (p) => `Отправка… ${p}%`,
    registering: 'Регистрируем заявку…',
    err_network: 'Нет связи с сервером. Проверьте интернет и нажмите «Отправить» ещё раз — введённое сохранено.',
    err_http: (code) => `Не удалось отправить заявку (ошибка ${code}). Попробуйте ещё раз.`,
    err_load: 'Не удалось загрузить список.',
    success_title: 'Задача успешно создана',
    ticket_word: 'Заявка',
    open_post: 'Открыть заявку',
    new_ticket: 'Новая заявка',
    accepted_title: 'Заявка принята',
    accepted_text: 'Заявка принята. Она появится в чате, как только служба поддержки её зарегистрирует.',
    wa_text: 'Разрешите боту писать вам — пришлём ответ поддержки и решение по заявке в личные сообщения.',
    wa_allow: 'Разрешить',
    wa_done: 'Уведомления включены ✓',
    tab_find: 'Поиск',
    find_label: 'Поиск заявок',
    find_placeholder: 'Номер, слова из темы или дата',
    filter_label: 'Какие заявки',
    filter_all: 'Все',
    filter_open: 'Открытые',
    filter_closed: 'Закрытые',
    sort_label: 'Порядок',
    sort_newest: 'Сначала новые',
    sort_oldest: 'Сначала старые',
    sort_activity: 'По активности',
    found: (n, total) => (n < total ? `Найдено: ${total}, показаны ${n}` : `Найдено: ${n}`),
    empty_find: 'Ничего не найдено.',
    priority: (p) => `Приоритет: ${p}`,
    category_chip: (c) => `Категория: ${c}`,
    activity: (when) => `активность ${when}`,
    empty_open: 'Открытых заявок нет — всё решено.',
    empty_last: 'Заявок пока нет.',
    retry: 'Повторить',
    fatal_title: 'Форма недоступна',
    no_launch: 'Откройте форму из Telegram: кнопка «Новая заявка» в чате поддержки.',
    session_failed: 'Не удалось загрузить форму. Проверьте интернет и попробуйте ещё раз.',
    units: ['Б', 'КБ', 'МБ', 'ГБ'],
  },
  en: {
    loading: 'Loading…',
    page_title: 'New ticket',
    header_sub: 'Support tickets',
    tabs_label: 'Sections',
    tab_new: 'New ticket',
    tab_open: 'Open tickets',
    tab_last: 'Recent',
    last_label: 'How many to show',
    last_10: 'Last 10',
    last_20: 'Last 20',
    company: 'Company',
    company_choose: 'Choose a company',
    subject: 'Subject',
    subject_placeholder: 'In short: what happened',
    description: 'Description',
    description_placeholder: 'Details: what you did, what you see, how urgent',
    optional: '(optional)',
    category: 'Category',
    choose: 'Choose',
    example: (e) => `For example: ${e}`,
    err_required: (label) => `Fill in “${label}”.`,
    files: 'Files',
    files_add: 'Attach files',
    files_hint: (n, size) => `Up to ${n} ${n === 1 ? 'file' : 'files'}, up to ${size} each`,
    file_remove: (name) => `Remove file ${name}`,
    err_file_type: (name) => `“${name}”: files of this type are not accepted.`,
    err_file_size: (name, max) => `“${name}” is larger than ${max}.`,
    err_file_count: (n) => `You can attach at most ${n} ${n === 1 ? 'file' : 'files'}.`,
    err_file_total: (max) => `All files together must be at most ${max}.`,
    err_subject: 'Enter the subject of the ticket.',
    err_company: 'Choose a company.',
    submit: 'Send',
    sending: (p) => `Sending… ${p}%`,
    registering: 'Registering the ticket…',
    err_network: 'No connection to the server. Check the internet and tap “Send” again — what you entered is kept.',
    err_http: (code) => `Could not send the ticket (error ${code}). Please try again.`,
    err_load: 'Could not load the list.',
    success_title: 'Ticket created',
    ticket_word: 'Ticket',
    open_post: 'Open ticket',
    new_ticket: 'New ticket',
    accepted_title: 'Ticket accepted',
    accepted_text: 'Your ticket is accepted. It will appear in the chat as soon as the support desk registers it.',
    wa_text: 'Allow the bot to message you — we will send the support team’s replies and the resolution to your private chat.',
    wa_allow: 'Allow',
    wa_done: 'Notifications are on ✓',
    tab_find: 'Search',
    find_label: 'Search tickets',
    find_placeholder: 'Number, words of the subject, or a date',
    filter_label: 'Which tickets',
    filter_all: 'All',
    filter_open: 'Open',
    filter_closed: 'Closed',
    sort_label: 'Order',
    sort_newest: 'Newest first',
    sort_oldest: 'Oldest first',
    sort_activity: 'By activity',
    found: (n, total) => (n < total ? `Found: ${total}, showing ${n}` : `Found: ${n}`),
    empty_find: 'Nothing found.',
    priority: (p) => `Priority: ${p}`,
    category_chip: (c) => `Category: ${c}`,
    activity: (when) => `active ${when}`,
    empty_open: 'No open tickets — everything is resolved.',
    empty_last: 'No tickets yet.',
    retry: 'Try again',
    fatal_title: 'The form is unavailable',
    no_launch: 'Open the form from Telegram: the “New ticket” button in the support chat.',
    session_failed: 'Could not load the form. Check the internet and try again.',
    units: ['B', 'KB', 'MB', 'GB'],
  },
};

let lang = 'ru';
const t = (key, ...args) => {
  const v = STRINGS[lang][key] ?? STRINGS.ru[key] ?? key;
  return typeof v === 'function' ? v(...args) : v;
};

function setLanguage(code) {
  lang = code === 'en' ? 'en' : 'ru';
  document.documentElement.lang = lang;
  document.title = t('page_title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
}

function humanSize(bytes) {
  const units = t('units');
  let i = 0;
  let v = bytes;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  const digits = i === 0 || v >= 10 ? 0 : 1;
  const num = new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(v);
  return `${num}\u00a0${units[i]}`;
}

const $ = (id) => document.getElementById(id);

// el('li', {class: 'x', 'data-testid': 'y', text: '…', onclick: fn}, ...children)
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

// ---------------------------------------------------------------------------------------------
// Launch parameters (location.hash, kept in sessionStorage for reloads that lose the hash).

const LAUNCH_KEY = 'teledesk.launch';

function readLaunch() {
  let raw = location.hash.replace(/^#/, '');
  let params = new URLSearchParams(raw);
  if (!params.get('tgWebAppData')) {
    const fromSearch = new URLSearchParams(location.search);
    if (fromSearch.get('tgWebAppData')) { raw = location.search.slice(1); params = fromSearch; }
  }
  if (params.get('tgWebAppData')) {
    try { sessionStorage.setItem(LAUNCH_KEY, raw); } catch (_) { /* storage may be disabled */ }
  } else {
    try { raw = sessionStorage.getItem(LAUNCH_KEY) || ''; } catch (_) { raw = ''; }
    params = new URLSearchParams(raw);
  }
  const initData = params.get('tgWebAppData') || '';
  const version = params.get('tgWebAppVersion') || '6.0';
  let theme = null;
  try { theme = JSON.parse(params.get('tgWebAppThemeParams') || 'null'); } catch (_) { theme = null; }
  let user = null;
  try { user = JSON.parse(new URLSearchParams(initData).get('user') || 'null'); } catch (_) { user = null; }
  return { initData, theme, user, version };
}

// ---------------------------------------------------------------------------------------------
// Telegram bridge (our own; telegram-web-app.js is not loaded).

const listeners = {};
const bridge = {
  inTelegram() {
    return Boolean(window.TelegramWebviewProxy
      || (window.external && typeof window.external === 'object' && 'notify' in window.external)
      || window.parent !== window);
  },
  post(eventType, eventData = {}) {
    try {
      if (window.TelegramWebviewProxy && typeof window.TelegramWebviewProxy.postEvent === 'function') {
        window.TelegramWebviewProxy.postEvent(eventType, JSON.stringify(eventData));
      } else if (window.external && typeof window.external === 'object' && 'notify' in window.external) {
        window.external.notify(JSON.stringify({ eventType, eventData }));
      } else if (window.parent !== window) {
        window.parent.postMessage(JSON.stringify({ eventType, eventData }), 'https://web.telegram.org');
      }
    } catch (err) {
      console.warn('bridge', eventType, err);
    }
  },
  on(eventType, fn) { (listeners[eventType] = listeners[eventType] || []).push(fn); },
  receive(eventType, eventData) {
    let data = eventData;
    if (typeof data === 'string') { try { data = JSON.parse(data); } catch (_) { /* keep as is */ } }
    for (const fn of listeners[eventType] || []) {
      try { fn(data || {}); } catch (err) { console.error(err); }
    }
  },
};

window.Telegram = window.Telegram || {};
window.Telegram.WebView = Object.assign(window.Telegram.WebView || {}, {
  receiveEvent: (type, data) => bridge.receive(type, data),
});
// Older desktop clients call the game proxy's receiver.
window.TelegramGameProxy_receiveEvent = (type, data) => bridge.receive(type, data);
window.addEventListener('message', (event) => {
  if (event.source !== window.parent || window.parent === window || typeof event.data !== 'string') return;
  try {
    const msg = JSON.parse(event.data);
    if (msg && typeof msg.eventType === 'string') bridge.receive(msg.eventType, msg.eventData);
  } catch (_) { /* not ours */ }
});

// Opens t.me links inside Telegram; elsewhere the <a href> navigates by itself.
function openLink(url, event) {
  if (!bridge.inTelegram()) return;
  let u;
  try { u = new URL(url); } catch (_) { return; }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return;
  event.preventDefault();
  if (u.hostname === 't.me' || u.hostname === 'telegram.me') {
    bridge.post('web_app_open_tg_link', { path_full: u.pathname + u.search });
  } else {
    bridge.post('web_app_open_link', { url: u.href });
  }
}

document.addEventListener('click', (event) => {
  const a = event.target instanceof Element ? event.target.closest('a[data-external]') : null;
  if (a && a.href) openLink(a.href, event);
});

// ---------------------------------------------------------------------------------------------
// Theme: Telegram's theme params → CSS custom properties (CSSOM; CSS has the fallback palettes).

// Set on :root by applyTheme (and removed again before a new theme is applied).
const THEME_PROPS = ['--tg-bg', '--tg-text', '--tg-hint', '--tg-link', '--tg-button', '--tg-button-text',
  '--tg-secondary-bg', '--tg-header-bg', '--tg-accent', '--tg-section-bg', '--tg-section-header', '--tg-subtitle',
  '--tg-destructive', '--tg-separator', '--tg-field-bg', '--tg-tint', 'color-scheme'];

const parseHex = (s) => {
  const m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(s || '').trim());
  if (!m) return null;
  const h = m[1].length === 3 ? m[1].replace(/./g, '$&$&') : m[1];
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
};
const toHex = (rgb) => `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;
const mix = (a, b, w) => a.map((c, i) => c * (1 - w) + b[i] * w);
const luminance = (rgb) => {
  const [r, g, b] = rgb.map((c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = (a, b) => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
};
// Moves a colour towards `towards` until it contrasts enough with every colour of `against`
// (Telegram's own hint and button colours are often below WCAG AA).
function readable(colour, towards, against, ratio) {
  let c = colour;
  for (let w = 0.1; w <= 1.001 && against.some((other) => contrast(c, other) < ratio); w += 0.1) c = mix(colour, towards, w);
  return c;
}

function applyTheme(params) {
  const root = document.documentElement.style;
  for (const name of THEME_PROPS) root.removeProperty(name);
  const bg = params && parseHex(params.bg_color);
  if (!bg) return; // no theme: the stylesheet's light / prefers-color-scheme: dark palettes apply
  const get = (k) => parseHex(params[k]);
  const dark = luminance(bg) < 0.2;
  const text = get('text_color') || (dark ? [255, 255, 255] : [0, 0, 0]);
  const secondary = get('secondary_bg_color') || mix(bg, dark ? [0, 0, 0] : [128, 128, 128], dark ? 0.3 : 0.12);
  const section = get('section_bg_color') || bg;
  const rawLink = get('link_color') || (dark ? [106, 179, 243] : [36, 129, 204]);
  const tint = mix(rawLink, section, 0.88); // selected tabs, secondary buttons: link-coloured text
  const surfaces = [bg, section, secondary, tint];
  const link = readable(rawLink, text, surfaces, 4.5);
  const buttonText = get('button_text_color') || (luminance(get('button_color') || rawLink) > 0.4 ? [0, 0, 0] : [255, 255, 255]);
  const button = readable(get('button_color') || rawLink, luminance(buttonText) > 0.5 ? [0, 0, 0] : [255, 255, 255], [buttonText], 4.5);
  // Telegram's theme keys: bg_color → --tg-bg, text_color → --tg-text, hint_color → --tg-hint, and so on.
  const colours = {
    '--tg-bg': bg,
    '--tg-text': text,
    '--tg-hint': readable(get('hint_color') || mix(text, bg, 0.45), text, surfaces, 4.5),
    '--tg-link': link,
    '--tg-button': button,
    '--tg-button-text': buttonText,
    '--tg-secondary-bg': secondary,
    '--tg-header-bg': get('header_bg_color') || bg,
    '--tg-accent': readable(get('accent_text_color') || link, text, surfaces, 4.5),
    '--tg-section-bg': section,
    '--tg-section-header': readable(get('section_header_text_color') || link, text, surfaces, 4.5),
    '--tg-subtitle': readable(get('subtitle_text_color') || mix(text, bg, 0.45), text, surfaces, 4.5),
    '--tg-destructive': readable(get('destructive_text_color') || [229, 57, 53], text, surfaces, 4.5),
    '--tg-separator': mix(text, section, 0.85),
    '--tg-field-bg': mix(secondary, section, dark ? 0.35 : 0.2),
    '--tg-tint': tint,
  };
  for (const [name, rgb] of Object.entries(colours)) root.setProperty(name, toHex(rgb));
  root.setProperty('color-scheme', dark ? 'dark' : 'light');
}

// Telegram's own header and overscroll area take the page's background colour (Bot API 6.1+).
let chromeColours = false;
function syncChrome() {
  if (!chromeColours) return;
  const colour = getComputedStyle(document.documentElement).getPropertyValue('--tg-secondary-bg').trim();
  bridge.post('web_app_set_header_color', { color_key: 'secondary_bg_color' });
  if (/^#[0-9a-f]{6}$/i.test(colour)) bridge.post('web_app_set_background_color', { color: colour });
}

bridge.on('theme_changed', (data) => { applyTheme(data.theme_params || data); syncChrome(); });

// ---------------------------------------------------------------------------------------------
// API.

const API = new URL('../api/app/', location.href);
let initData = '';

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || '');
    this.status = status;
    this.code = (body && body.error) || null;
    this.field = (body && body.field) || null;
  }
}

const parseJson = (text) => { try { return JSON.parse(text); } catch (_) { return null; } };

async function api(path) {
  let res;
  try {
    res = await fetch(new URL(path, API), {
      headers: { Authorization: `tma ${initData}`, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch (_) {
    throw new ApiError(0, null);
  }
  const body = parseJson(await res.text().catch(() => ''));
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

// ---------------------------------------------------------------------------------------------
// State.

const state = {
  session: null,
  files: [],
  submissionId: newSubmissionId(),
  sending: false,
  tab: 'new',
  lastLimit: 10,
  listToken: 0,
  findFilter: 'all',
};

function newSubmissionId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------------------------------------
// Fatal screen.

function showFatal(message, retry) {
  $('boot').hidden = true;
  $('main').hidden = true;
  $('fatal-message').textContent = message;
  $('fatal-retry').hidden = !retry;
  $('fatal').hidden = false;
  $('app').setAttribute('aria-busy', 'false');
}

// ---------------------------------------------------------------------------------------------
// Form.

// Form fields by their multipart names (also their element ids; errors go to `${name}-error`).
const FIELDS = ['company', 'subject', 'description', 'files'];

function setFieldError(field, message) {
  const input = $(field);
  const error = $(`${field}-error`);
  if (!FIELDS.includes(field) || !input || !error) return false;
  error.textContent = message || '';
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
  return true;
}

function clearErrors() {
  for (const f of FIELDS) setFieldError(f, '');
  $('form-error').textContent = '';
}

// The server decides by extension (then checks the content), so the extension decides here too;
// MIME types in the list only help the system file picker.
function fileMatches(file, accept) {
  const extensions = accept.filter((a) => a.startsWith('.')).map((a) => a.toLowerCase());
  if (!extensions.length) return true;
  const dot = file.name.lastIndexOf('.');
  const ext = dot > 0 ? file.name.slice(dot).toLowerCase() : '';
  return extensions.includes(ext);
}

function addFiles(list) {
  const limits = state.session.limits;
  const errors = [];
  let total = state.files.reduce((s, f) => s + f.size, 0);
  for (const file of list) {
    const dup = state.files.some((f) => f.name === file.name && f.size === file.size && f.lastModified === file.lastModified);
    if (dup) continue;
    if (!fileMatches(file, limits.accept || [])) errors.push(t('err_file_type', file.name));
    else if (file.size > limits.max_file_bytes) errors.push(t('err_file_size', file.name, humanSize(limits.max_file_bytes)));
    else if (state.files.length >= limits.max_files) { errors.push(t('err_file_count', limits.max_files)); break; }
    else if (limits.max_total_bytes && total + file.size > limits.max_total_bytes) errors.push(t('err_file_total', humanSize(limits.max_total_bytes)));
    else { state.files.push(file); total += file.size; }
  }
  setFieldError('files', errors.join('\n'));
  renderFiles();
}

function renderFiles() {
  const ul = $('file-list');
  ul.replaceChildren(...state.files.map((file, index) => {
    const dot = file.name.lastIndexOf('.');
    const remove = () => {
      state.files.splice(index, 1);
      setFieldError('files', '');
      renderFiles();
      const next = ul.querySelectorAll('.file-remove')[Math.min(index, state.files.length - 1)];
      (next || $('files')).focus();
    };
    return el('li', { class: 'file-item', 'data-testid': 'file-item' },
      el('span', { class: 'file-icon', 'aria-hidden': 'true', text: dot > 0 ? file.name.slice(dot + 1, dot + 5).toUpperCase() : '•' }),
      el('span', { class: 'file-info' },
        el('span', { class: 'file-name', text: file.name }),
        el('span', { class: 'file-size', text: humanSize(file.size) })),
      el('button', { type: 'button', class: 'file-remove', 'aria-label': t('file_remove', file.name), text: '✕', onclick: remove }));
  }));
}

function setupForm(session) {
  const { limits } = session;
  const companies = Array.isArray(session.companies) ? session.companies : [];
  const select = $('company');
  if (companies.length) {
    const placeholder = new Option(t('company_choose'), '');
    placeholder.disabled = true;
    select.replaceChildren(placeholder, ...companies.map((c) => new Option(c, c)));
    select.value = companies.length === 1 ? companies[0] : '';
    $('company-field').hidden = false;
  } else {
    select.replaceChildren();
    $('company-field').hidden = true;
  }
  setupIntake(session);
  $('subject').maxLength = limits.subject_max;
  $('subject').placeholder = t('subject_placeholder');
  $('description').maxLength = limits.description_max;
  $('description').placeholder = t('description_placeholder');
  $('files').accept = (limits.accept || []).join(',');
  $('files-section').hidden = !(limits.max_files > 0); // a helpdesk that takes no files
  $('files-hint').textContent = t('files_hint', limits.max_files, humanSize(limits.max_file_bytes));
  for (const f of ['company', 'subject', 'description']) {
    $(f).addEventListener('input', () => { if ($(f).getAttribute('aria-invalid')) setFieldError(f, ''); });
  }
  $('files').addEventListener('change', (event) => {
    addFiles(Array.from(event.target.files || []));
    event.target.value = '';
  });
  $('form').addEventListener('submit', (event) => { event.preventDefault(); submit(); });
  // Enter («Далее» on a phone keyboard) in the subject goes on to the description, not sends.
  $('subject').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.isComposing) { event.preventDefault(); $('description').focus(); }
  });
  $('success-new').addEventListener('click', resetForm);
  $('accepted-new').addEventListener('click', resetForm);
}

// ---------------------------------------------------------------------------------------------
// Intake fields: the chat's category and extra fields (`[[chats.categories]]`, `[[chats.fields]]`),
// rendered from the session; the server checks them with the bot's own rules. Last time's answers
// are the fields' initial values, so a form reset brings them back.

function intakeControl(id, type, attrs, last, choices) {
  if (choices) {
    const placeholder = new Option(t('choose'), '');
    placeholder.disabled = true;
    const select = el('select', { id, name: id, class: 'control', ...attrs });
    select.replaceChildren(placeholder, ...choices.map((c) => new Option(c.label, c.id, c.id === last, c.id === last)));
    if (!choices.some((c) => c.id === last)) { placeholder.defaultSelected = true; select.value = ''; }
    return el('div', { class: 'select-wrap' }, select);
  }
  const input = el('input', { id, name: id, class: 'control', type, autocomplete: 'off', ...attrs });
  input.defaultValue = last || '';
  return input;
}

function setupIntake(session) {
  const intake = session.intake || { categories: [], fields: [] };
  const box = $('intake-fields');
  const parts = [];
  const field = (id, label, required, control, hint) => {
    if (!FIELDS.includes(id)) FIELDS.push(id);
    parts.push(el('div', { class: 'field', 'data-required': required ? 'true' : null, 'data-label': label },
      el('label', { class: 'label', for: id }, label, required ? '' : ` ${t('optional')}`),
      control,
      hint ? el('p', { class: 'label-hint', text: hint }) : '',
      el('p', { id: `${id}-error`, class: 'field-error' })));
  };
  if ((intake.categories || []).length) {
    field('category', t('category'), true,
      intakeControl('category', 'text', { 'data-testid': 'category' }, intake.last_category, intake.categories));
  }
  for (const f of intake.fields || []) {
    const id = `field.${f.id}`;
    const type = f.type === 'phone' ? 'tel' : 'text';
    const choices = f.type === 'choice' ? f.choices : null;
    field(id, f.label, f.required,
      intakeControl(id, type, { 'data-testid': id, maxlength: 255 }, f.last, choices),
      f.example ? t('example', f.example) : '');
  }
  box.replaceChildren(...parts);
  for (const node of box.querySelectorAll('input, select')) {
    node.addEventListener('input', () => { if (node.getAttribute('aria-invalid')) setFieldError(node.id, ''); });
  }
}

function validateIntake(errors) {
  for (const wrap of $('intake-fields').querySelectorAll('[data-required="true"]')) {
    const control = wrap.querySelector('input, select');
    if (!control.value.trim()) errors.push([control.id, t('err_required', wrap.dataset.label)]);
  }
}

function appendIntake(data) {
  for (const control of $('intake-fields').querySelectorAll('input, select')) {
    data.append(control.id, control.value.trim());
  }
}

function validate() {
  const errors = [];
  if (!$('company-field').hidden && !$('company').value) errors.push(['company', t('err_company')]);
  validateIntake(errors);
  if (!$('subject').value.trim()) errors.push(['subject', t('err_subject')]);
  for (const [f, m] of errors) setFieldError(f, m);
  if (errors.length) $(errors[0][0]).focus();
  return errors.length === 0;
}

function setSending(on) {
  state.sending = on;
  $('fields').disabled = on;
  $('submit').disabled = on;
  $('form').setAttribute('aria-busy', String(on));
  $('progress-wrap').hidden = !on;
}

function setProgress(percent) {
  const p = $('progress');
  if (percent === null) {
    p.removeAttribute('value');
    $('progress-label').textContent = t('registering');
  } else {
    p.value = percent;
    $('progress-label').textContent = t('sending', percent);
  }
}

function submit() {
  if (state.sending) return; // a double tap sends once
  clearErrors();
  if (!validate()) return;
  const data = new FormData();
  data.append('submission_id', state.submissionId);
  data.append('company', $('company-field').hidden ? '' : $('company').value);
  appendIntake(data);
  data.append('subject', $('subject').value.trim());
  data.append('description', $('description').value);
  for (const file of state.files) data.append('files', file, file.name);
  setSending(true);
  setProgress(0);

  const xhr = new XMLHttpRequest();
  xhr.open('POST', new URL('tickets', API));
  xhr.setRequestHeader('Authorization', `tma ${initData}`);
  xhr.setRequestHeader('Accept', 'application/json');
  // Lets the server answer a retry of a form it has taken before reading its files again.
  xhr.setRequestHeader('X-Submission-Id', state.submissionId);
  xhr.timeout = 10 * 60 * 1000;
  xhr.upload.addEventListener('progress', (e) => {
    if (e.lengthComputable) setProgress(Math.min(100, Math.round((e.loaded / e.total) * 100)));
  });
  xhr.upload.addEventListener('load', () => setProgress(null));
  xhr.addEventListener('load', () => {
    const body = parseJson(xhr.responseText);
    if ((xhr.status === 200 || xhr.status === 202) && body && body.submission_id) {
      setProgress(null);
      track(body);
    } else {
      failed(new ApiError(xhr.status, body));
    }
  });
  const netFail = () => failed(new ApiError(0, null));
  xhr.addEventListener('error', netFail);
  xhr.addEventListener('timeout', netFail);
  xhr.addEventListener('abort', netFail);
  xhr.send(data);
}

function failed(err) {
  setSending(false);
  let message = err.message;
  if (!message) message = err.status === 0 ? t('err_network') : t('err_http', err.status);
  $('form-error').textContent = message;
  const field = err.field === 'company' && $('company-field').hidden ? null : err.field;
  if (field && setFieldError(field, message)) $(field).focus();
  else $('submit').focus();
}

// Polls the submission until the ticket is posted (see the HTTP contract for the timings).
function track(first) {
  const started = Date.now();
  let createdAt = null;
  let lastTicket = first.ticket || null;
  const step = (body) => {
    const now = Date.now();
    if (body && (body.state === 'created' || body.state === 'posted') && createdAt === null) createdAt = now;
    if (body && body.state === 'posted') return showSuccess(body.ticket);
    if (createdAt !== null && now - createdAt >= 5000) return showSuccess(body && body.ticket);
    if (createdAt === null && now - started >= 20000) return showAccepted();
    setTimeout(async () => {
      let next = null;
      try {
        next = await api(`submissions/${encodeURIComponent(first.submission_id)}`);
      } catch (err) {
        // 410: the daemon refused it for good (its message says why). Any other failed poll is
        // retried: the submission itself is safe on the server.
        if (err.status === 410) { failed(err); return; }
      }
      if (next === null && createdAt !== null) next = { state: 'created', ticket: lastTicket };
      if (next && next.ticket) lastTicket = next.ticket;
      step(next);
    }, 700);
  };
  step(first);
}

function finishSending() {
  setSending(false);
  $('form').hidden = true;
}

function showSuccess(ticket) {
  finishSending();
  const number = ticket && ticket.number;
  $('success-number').textContent = number || '…';
  const link = $('success-open-post');
  if (ticket && ticket.url) {
    link.href = ticket.url;
    link.dataset.external = 'true';
    link.hidden = false;
  } else {
    link.removeAttribute('href');
    link.hidden = true;
  }
  $('success').hidden = false;
  $('success').focus();
}

function showAccepted() {
  finishSending();
  $('accepted').hidden = false;
  $('accepted').focus();
}

function resetForm() {
  state.submissionId = newSubmissionId();
  state.files = [];
  renderFiles();
  clearErrors();
  $('form').reset();
  const companies = state.session.companies || [];
  $('company').value = companies.length === 1 ? companies[0] : '';
  $('success').hidden = true;
  $('accepted').hidden = true;
  $('form').hidden = false;
  $('subject').focus();
}

// ---------------------------------------------------------------------------------------------
// Notifications (write access).

function setupWriteAccess(session) {
  const box = $('write-access');
  if (session.notifications !== 'ask') { box.hidden = true; return; }
  $('write-access-text').textContent = t('wa_text');
  box.hidden = false;
  const allow = $('write-access-allow');
  allow.addEventListener('click', () => {
    allow.disabled = true;
    bridge.post('web_app_request_write_access');
    // Outside a client that answers, let the user try again.
    setTimeout(() => { allow.disabled = false; }, 3000);
  });
  bridge.on('write_access_requested', (data) => {
    if (data.status === 'allowed') {
      $('write-access-text').textContent = t('wa_done');
      allow.remove();
      box.classList.add('notice-done');
    } else {
      allow.disabled = false;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Tabs and ticket lists.

function selectTab(name, focus) {
  state.tab = name;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.dataset.tab === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    if (on && focus) tab.focus();
    const panel = $(tab.getAttribute('aria-controls'));
    panel.hidden = !on;
    // Only the shown panel has a list: each opening loads it anew.
    if (!on) { const host = panel.querySelector('.list-host'); if (host) host.replaceChildren(); }
  }
  if (name !== 'new') loadList();
}

function setupTabs() {
  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
  for (const tab of tabs) tab.addEventListener('click', () => selectTab(tab.dataset.tab, false));
  $('tabs').addEventListener('keydown', (event) => {
    const i = tabs.findIndex((tab) => tab.dataset.tab === state.tab);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    selectTab(tabs[(to + tabs.length) % tabs.length].dataset.tab, true);
  });
  for (const seg of document.querySelectorAll('.segment[data-limit]')) {
    seg.addEventListener('click', () => {
      state.lastLimit = Number(seg.dataset.limit);
      for (const s of document.querySelectorAll('.segment[data-limit]')) s.setAttribute('aria-pressed', String(s === seg));
      loadList();
    });
  }
  setupFind();
}

// The search tab: a query (number, words, date or range), a filter and an order, asked of the
// same list API (`q`, `filter`, `sort`); typing searches after a pause.
function setupFind() {
  let pause = null;
  const again = () => { if (state.tab === 'find') loadList(); };
  $('find-q').addEventListener('input', () => {
    clearTimeout(pause);
    pause = setTimeout(again, 300);
  });
  $('find-form').addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(pause);
    again();
  });
  for (const seg of document.querySelectorAll('.segment[data-filter]')) {
    seg.addEventListener('click', () => {
      state.findFilter = seg.dataset.filter;
      for (const s of document.querySelectorAll('.segment[data-filter]')) s.setAttribute('aria-pressed', String(s === seg));
      again();
    });
  }
  $('find-sort').addEventListener('change', again);
}

// The list API's path for the shown tab.
function listPath(tab) {
  if (tab === 'open') return 'tickets?scope=open';
  if (tab === 'last') return `tickets?scope=last&limit=${state.lastLimit}`;
  const params = new URLSearchParams({
    q: $('find-q').value.trim(),
    filter: state.findFilter || 'all',
    sort: $('find-sort').value || 'newest',
  });
  return `tickets?${params}`;
}

function ticketRow(ticket, fmt) {
  const date = (text) => {
    const at = text ? new Date(text) : null;
    return at && !Number.isNaN(at.getTime()) ? fmt.format(at) : null;
  };
  const activity = date(ticket.last_activity_at) !== date(ticket.created_at) ? date(ticket.last_activity_at) : null;
  const meta = [ticket.author, date(ticket.created_at), activity && t('activity', activity)].filter(Boolean).join(' · ');
  const chips = [
    ticket.priority && el('span', { class: 'chip', 'data-testid': 'ticket-priority', text: t('priority', ticket.priority) }),
    // The API names the category by id and by the label the chat shows.
    ticket.category && el('span', { class: 'chip', 'data-testid': 'ticket-category', text: t('category_chip', ticket.category.label || ticket.category.id) }),
  ].filter(Boolean);
  const link = ticket.url ? { href: ticket.url, target: '_blank', rel: 'noopener', 'data-external': 'true' } : {};
  return el('li', { class: 'ticket-row', 'data-testid': 'ticket-row', 'data-done': String(Boolean(ticket.done)), 'data-number': ticket.number || '' },
    el(ticket.url ? 'a' : 'div', { class: 'ticket', ...link },
      el('span', { class: 'ticket-top' },
        el('span', { class: 'ticket-number', text: ticket.number ? `#${ticket.number}` : '#…' }),
        el('span', { class: 'ticket-status', text: ticket.status_label || ticket.status || '' })),
      el('span', { class: 'ticket-subject', text: ticket.subject || '' }),
      chips.length ? el('span', { class: 'ticket-chips' }, ...chips) : '',
      el('span', { class: 'ticket-meta', text: meta })));
}

async function loadList() {
  const tab = state.tab;
  const panel = $(`panel-${tab}`);
  const host = panel.querySelector('.list-host');
  const token = ++state.listToken;
  panel.setAttribute('aria-busy', 'true');
  host.replaceChildren(el('p', { class: 'list-state', text: t('loading') }));
  let body;
  try {
    body = await api(listPath(tab));
  } catch (err) {
    if (token !== state.listToken) return; // another tab or limit was chosen meanwhile
    panel.setAttribute('aria-busy', 'false');
    host.replaceChildren(el('p', { class: 'list-state list-error', text: err.message || t('err_load') }),
      el('button', { type: 'button', class: 'button button-secondary', text: t('retry'), onclick: loadList }));
    return;
  }
  if (token !== state.listToken) return;
  panel.setAttribute('aria-busy', 'false');
  const tickets = body && Array.isArray(body.tickets) ? body.tickets : [];
  if (tab === 'find') $('find-count').textContent = t('found', tickets.length, Number(body && body.total) || tickets.length);
  if (!tickets.length) {
    const empty = { open: ['☀', 'empty_open'], last: ['☰', 'empty_last'], find: ['⌕', 'empty_find'] }[tab];
    host.replaceChildren(el('div', { class: 'empty', 'data-testid': 'ticket-empty' },
      el('div', { class: 'empty-icon', 'aria-hidden': 'true', text: empty[0] }),
      el('p', { text: t(empty[1]) })));
    return;
  }
  const fmt = new Intl.DateTimeFormat(lang, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  host.replaceChildren(el('ul', { class: 'ticket-list', 'data-testid': 'ticket-list', 'aria-labelledby': `tab-${tab}` },
    ...tickets.map((ticket) => ticketRow(ticket, fmt))));
}

// ---------------------------------------------------------------------------------------------
// Start.

async function loadSession() {
  $('fatal').hidden = true;
  $('boot').hidden = false;
  $('app').setAttribute('aria-busy', 'true');
  let session;
  try {
    session = await api('session');
  } catch (err) {
    if (err.status === 401 || err.status === 403) showFatal(err.message || t('no_launch'), false);
    else showFatal(err.message || t('session_failed'), true);
    bridge.post('web_app_ready');
    return;
  }
  state.session = session;
  setLanguage(session.language);
  $('chat-title').textContent = (session.chat && session.chat.title) || t('page_title');
  setupForm(session);
  setupWriteAccess(session);
  setupTabs();
  $('boot').hidden = true;
  $('main').hidden = false;
  $('app').setAttribute('aria-busy', 'false');
  bridge.post('web_app_ready');
}

function versionAtLeast(have, want) {
  const a = String(have).split('.').map(Number);
  const b = want.split('.').map(Number);
  for (let i = 0; i < b.length; i += 1) {
    if ((a[i] || 0) !== b[i]) return (a[i] || 0) > b[i];
  }
  return true;
}

function start() {
  const launch = readLaunch();
  initData = launch.initData;
  const code = launch.user && typeof launch.user.language_code === 'string' ? launch.user.language_code : (navigator.language || 'ru');
  setLanguage(code.toLowerCase().startsWith('ru') ? 'ru' : 'en');
  applyTheme(launch.theme);
  $('fatal-retry').addEventListener('click', loadSession);
  if (!initData) {
    showFatal(t('no_launch'), false);
    bridge.post('web_app_ready');
    return;
  }
  bridge.post('web_app_expand');
  bridge.post('web_app_request_theme');
  if (versionAtLeast(launch.version, '6.1')) {
    chromeColours = true;
    syncChrome();
  }
  loadSession();
}

start();
