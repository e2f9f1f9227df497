/**
 * Which Node runs the suite: CI runs it on the machine's Node and on the LTS lines from
 * devDependencies (node22, node24), and sets EXPECT_NODE_MAJOR so a run that silently fell
 * back to another Node fails here.
 */
import t from "tap";

t.test("runs on a supported Node", async (t) => {
  t.comment(`node ${process.version}`);
  const major = Number(process.versions.node.split(".")[0]);
  t.ok(major >= 20, `Node ${process.version} is 20 or later`);
  const expected = process.env.EXPECT_NODE_MAJOR;
  if (expected) t.equal(major, Number(expected), `this run was meant for Node ${expected}`);
});
