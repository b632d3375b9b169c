// Labelled form fields whose errors (ours or the API's, by field name) show under them and are
// tied to them with aria-describedby / aria-invalid.
import { h } from './dom.js';

// field('memory', 'Memory', input, 'help text') -> wrapper; the input gets id f-<name>.
export function field(name, label, input, help) {
  const id = 'f-' + name.replace(/\./g, '-');
  input.id = id;
  input.name = name;
  const helpId = id + '-help';
  const errId = id + '-error';
  input.setAttribute('aria-describedby', `${help ? helpId + ' ' : ''}${errId}`);
  return h('div.field', { dataset: { field: name } },
    input.type === 'checkbox' ? h('label.check', { for: id }, input, ' ', label) : [h('label', { for: id }, label), input],
    help ? h('p.help', { id: helpId }, help) : null,
    h('p.field-error', { id: errId }));
}

// Shows errors ({field: message}); returns the first field's input (to focus), or null.
export function showErrors(form, errors) {
  let first = null;
  for (const wrap of form.querySelectorAll('.field')) {
    const msg = errors[wrap.dataset.field] || '';
    const input = wrap.querySelector('input, select, textarea');
    wrap.querySelector('.field-error').textContent = msg;
    if (msg) {
      input.setAttribute('aria-invalid', 'true');
      first = first || input;
    } else {
      input.removeAttribute('aria-invalid');
    }
  }
  return first;
}
