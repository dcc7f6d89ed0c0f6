// @ts-check
/**
 * Small DOM helpers for the console. Text always goes in as text (textContent, text nodes),
 * never as HTML: document titles, passages and error messages come from users' data.
 */

/**
 * An element with attributes and children (strings become text nodes).
 * @param {string} tag
 * @param {Record<string, string | number | boolean | undefined>} [attributes]
 * @param {(Node | string)[]} children
 * @returns {HTMLElement}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  element.append(...children);
  return element;
}

/**
 * The element with this id; a missing one is a bug in index.html, so it throws.
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`console: #${id} is missing from the page`);
  return /** @type {T} */ (element);
}

/**
 * Shows an error (its message, and the details an API error lists) in an alert box.
 * @param {HTMLElement} box
 * @param {unknown} error
 */
export function showError(box, error) {
  const { message, details } = describeError(error);
  box.replaceChildren(h('p', {}, message));
  if (details.length > 0) box.append(h('ul', {}, ...details.map((detail) => h('li', {}, detail))));
}

/** @param {HTMLElement} box */
export function clearError(box) {
  box.replaceChildren();
}

/**
 * @param {unknown} error
 * @returns {{ message: string, details: string[] }}
 */
function describeError(error) {
  if (error && typeof error === 'object' && 'message' in error) {
    const details = 'details' in error && Array.isArray(error.details) ? error.details.map(String) : [];
    const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
    return { message: code ? `${String(error.message)} (${code})` : String(error.message), details };
  }
  return { message: String(error), details: [] };
}

/**
 * Text with `**matches**` (the search highlight's Markdown bold) as <mark> elements.
 * @param {string} text
 * @returns {(Node | string)[]}
 */
export function highlighted(text) {
  return text.split('**').map((part, index) => (index % 2 === 1 ? h('mark', {}, part) : part));
}
