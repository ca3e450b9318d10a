import { api } from "./api.js";
import { $ } from "./dom.js";
import { criticalText, renderDag } from "./dag.js";

const name = $("#task-page").dataset.task;
api(`/tasks/${encodeURIComponent(name)}`).then((task) => {
  renderDag($("#dag"), task.graph, task.critical_path);
  criticalText($("#critical"), task.critical_path);
});
