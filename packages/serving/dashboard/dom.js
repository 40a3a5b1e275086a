// Small DOM helpers: build elements without innerHTML (values from the API are never parsed as
// markup) and replace a table body's rows in one go.

/**
 * Create an element. `attrs` keys starting with `data-`, `aria-` or equal to `class`/`role`/etc. are
 * set as attributes; children are nodes or text.
 * @param {string} tag
 * @param {Record<string, string | number | boolean | null | undefined>} [attrs]
 * @param {Array<Node | string | number | null | undefined | false>} [children]
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/**
 * Replace the rows of a table body; an empty list shows one row with `emptyText`.
 * @param {HTMLTableSectionElement} tbody
 * @param {HTMLElement[]} rows
 * @param {string} emptyText
 */
export function setRows(tbody, rows, emptyText) {
  if (rows.length === 0) {
    const columns = tbody.closest('table')?.querySelectorAll('thead th').length ?? 1;
    tbody.replaceChildren(h('tr', { class: 'empty' }, [h('td', { colspan: columns }, [emptyText])]));
    return;
  }
  tbody.replaceChildren(...rows);
}

/**
 * @template {HTMLElement} T
 * @param {string} selector
 * @param {ParentNode} [root]
 * @returns {T}
 */
export function $(selector, root = document) {
  const element = root.querySelector(selector);
  if (!element) throw new Error(`dashboard markup lacks ${selector}`);
  return /** @type {T} */ (element);
}
