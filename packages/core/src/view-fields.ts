// The stream fields a view's numbers depend on, in one place: the view's fingerprint hashes their
// rules, a registry writer version must provide each of them, and batch stages only them.
import { filterFields } from './filter.ts';
import type { Stream } from './stream.ts';
import type { View } from './view.ts';

/**
 * The time and id fields, the dimensions, the fields of the view's filter and, per measure, its field
 * and the fields of its filter. A sessionized view reads its session key and page field instead of
 * measure fields: its session measures come from those two.
 */
export function viewFieldsRead(view: Omit<View, 'fingerprint'>, stream: Stream): Set<string> {
  const names = new Set<string>([stream.timeField, ...view.dimensions]);
  if (stream.idField !== null) names.add(stream.idField);
  filterFields(view.filter, names);
  if (view.sessionize === null) {
    for (const measure of Object.values(view.measures)) {
      if (measure.field !== null) names.add(measure.field);
      filterFields(measure.where, names);
    }
  } else {
    names.add(view.sessionize.by);
    names.add(view.sessionize.page);
  }
  return names;
}
